"""Agent state, the pure core: no I/O here, backends in `engram.stores` call into it.

- `engram.state.values`: how checkpoint channel values are encoded, diffed (list deltas over
  content-addressed items) and rebuilt.
- `engram.state.retention`: which checkpoints a retention policy keeps, and which stored
  values and items the kept ones still need.
- `engram.state.checkpoints`: checkpoint ids, timestamps, metadata filters, write order.
- `engram.state.events`: event-log rules (reducers, replay).
- `engram.state.working`: the working-memory record.
"""
