"""Long-term memory operations as flows (see `_flows`): add, search, consolidate, forget.

Each flow decides everything and does no I/O: it yields store batches, embedding requests
and LLM requests, and the `Memories` facade drives it sync or async.

```
scope.py    Scope, lock_key, every_memory: who a flow is about, what its writes serialise on
graph.py    the user's entity graph: the user's entity, entity resolution, stated relations
add.py      add_flow, AddReport
search.py   search_flow
edits.py    edited, correction_flow, profile_edit_flow: a user's edits
erasure.py  erase_flow, erase_scope_flow
revival.py  what erasing a scope gives back: the values its memories retired, the user's name
upkeep.py   consolidate_flow, bloat_flow, reembed_flow, forgettable_flow, forget_flow
```
"""

from engram._memory_flows.add import AddReport, add_flow
from engram._memory_flows.edits import correction_flow, edited, profile_edit_flow
from engram._memory_flows.erasure import erase_flow, erase_scope_flow
from engram._memory_flows.scope import Scope, every_memory, lock_key
from engram._memory_flows.search import search_flow
from engram._memory_flows.upkeep import (
    bloat_flow,
    consolidate_flow,
    forget_flow,
    forgettable_flow,
    reembed_flow,
)

__all__ = [
    "AddReport",
    "Scope",
    "add_flow",
    "bloat_flow",
    "consolidate_flow",
    "correction_flow",
    "edited",
    "erase_flow",
    "erase_scope_flow",
    "every_memory",
    "forget_flow",
    "forgettable_flow",
    "lock_key",
    "profile_edit_flow",
    "reembed_flow",
    "search_flow",
]
