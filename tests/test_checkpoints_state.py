"""The pure core of checkpoints: list deltas, rebuilding, retention planning, ids, serde."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engram._exceptions import InvalidInputError
from engram.serde import CompressedSerializer, EncryptedSerializer, JsonSerializer
from engram.state import headers
from engram.state.checkpoints import (
    dumps_json,
    fork_children,
    id_from_bytes,
    id_to_bytes,
    is_checkpoint_id,
    is_child_namespace,
    metadata_matches,
    next_checkpoint_id,
    split_filter,
)
from engram.state.retention import (
    HistoryEntry,
    collect_garbage,
    doomed_checkpoints,
    needed_values,
    plan_retention,
)
from engram.state.values import (
    DELTA,
    LIST,
    ListState,
    ValueRow,
    content_hash,
    content_version,
    decode_value,
    diff_list,
    encode_value,
    plan_value_row,
    resolve_hashes,
    unpack_hashes,
)
from engram.types._checkpoint import CheckpointInfo, EncodedList, RetentionPolicy

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def item(text: str) -> tuple[str, bytes]:
    return ("json", text.encode())


# List deltas.


def as_hashes(text: str) -> tuple[bytes, ...]:
    return tuple(c.encode() for c in text)


@pytest.mark.parametrize(
    ("base", "new", "expected"),
    [
        ("abc", "abcd", (0, 3, "d")),  # append
        ("abcd", "cde", (2, 4, "e")),  # window: drop the oldest, append
        ("abcd", "ab", (0, 2, "")),  # truncate
        ("abc", "abx", (0, 2, "x")),  # replace the last
        ("abc", "xyz", None),  # nothing shared
        ("", "ab", None),
        ("aab", "ab", (1, 3, "")),  # the longest shared run wins
    ],
)
def test_diff_list(base: str, new: str, expected: Any) -> None:
    got = diff_list(as_hashes(base), as_hashes(new))
    if expected is None:
        assert got is None
    else:
        assert got == (expected[0], expected[1], as_hashes(expected[2]))


@given(st.lists(st.lists(st.sampled_from("abcdef"), max_size=8), min_size=1, max_size=30))
def test_versions_rebuild_exactly_through_delta_chains(lists: list[list[str]]) -> None:
    rows: dict[str, ValueRow] = {}
    base: ListState | None = None
    for number, items in enumerate(lists):
        version = f"v{number}"
        value = EncodedList(tuple(item(x) for x in items))
        row, blobs, base = plan_value_row(version, value, base, snapshot_every=4)
        assert row.depth < 4 and set(blobs) <= {content_hash(i) for i in value.items}
        rows[version] = row
    for number, items in enumerate(lists):
        hashes = resolve_hashes(f"v{number}", rows.get)
        assert hashes == tuple(content_hash(item(x)) for x in items)


@given(
    st.lists(st.sampled_from("abcdef"), max_size=8),
    st.lists(st.sampled_from("abcdef"), max_size=8),
    st.integers(0, 5),
)
def test_a_known_base_plans_what_a_resolved_base_does(
    old: list[str], new: list[str], depth: int
) -> None:
    """A base this process wrote (items known: the append shortcut) or read back (hashes only)
    gives the same row, blobs and state."""
    first = EncodedList(tuple(item(x) for x in old))
    _, _, known = plan_value_row("1", first, None, snapshot_every=8)
    assert known is not None
    known = known._replace(depth=depth)
    resolved = known._replace(items=())
    grown = EncodedList(first.items + tuple(item(x) for x in new))
    for value in (grown, EncodedList(tuple(item(x) for x in new))):
        shortcut = plan_value_row("2", value, known, snapshot_every=8)
        general = plan_value_row("2", value, resolved, snapshot_every=8)
        assert shortcut[:2] == general[:2]
        assert shortcut[2] is not None and general[2] is not None
        assert shortcut[2][:3] == general[2][:3]


def test_append_stores_only_the_new_item() -> None:
    first = EncodedList((item("a"), item("b")))
    row, _, state = plan_value_row("1", first, None, snapshot_every=16)
    grown = EncodedList((item("a"), item("b"), item("c")))
    delta, blobs, _ = plan_value_row("2", grown, state, snapshot_every=16)
    assert row.kind == LIST and delta.kind == DELTA and delta.base == "1"
    assert (delta.start, delta.stop, unpack_hashes(delta.data)) == (
        0,
        2,
        (content_hash(item("c")),),
    )
    assert list(blobs.values()) == [item("c")]


@given(JSON_VALUES)
def test_encode_decode_round_trip(value: Any) -> None:
    serde = JsonSerializer()
    stored = encode_value(serde, value)
    assert isinstance(stored, EncodedList) == (type(value) is list)
    assert decode_value(serde, stored) == value
    assert content_version(stored) == content_version(encode_value(serde, value))


# Retention.

HISTORY = st.lists(st.integers(0, 10_000), min_size=1, max_size=30, unique=True)


def entries(times: list[int]) -> list[HistoryEntry]:
    ids = sorted(str(uuid.uuid4()) for _ in times)
    return [
        HistoryEntry("", cid, seq + 1, t)
        for seq, (cid, t) in enumerate(zip(ids, times, strict=True))
    ]


@given(HISTORY, st.integers(1, 5), st.none() | st.integers(1, 4), st.none() | st.integers(1, 9))
def test_plan_retention(times: list[int], last: int, every: int | None, age: int | None) -> None:
    history = entries(sorted(times))
    policy = RetentionPolicy(
        keep_last=last, keep_every=every, max_age=None if age is None else timedelta(seconds=age)
    )
    now = 10_000
    kept = plan_retention(history, policy, now)
    newest = max(e.id for e in history)
    assert newest in kept
    for entry in history:
        wanted = entry in history[-last:] or (every is not None and entry.seq % every == 0)
        if age is not None and entry.created_at_ms < now - age * 1000:
            wanted = False
        assert (entry.id in kept) == (wanted or entry.id == newest)
    survivors = [e for e in history if e.id in kept]
    assert plan_retention(survivors, policy, now) == kept  # pruning again removes nothing


def test_keep_every_is_stable_across_prunes() -> None:
    history = entries(list(range(10)))
    policy = RetentionPolicy(keep_last=1, keep_every=3)
    kept = plan_retention(history, policy, 10)
    survivors = [e for e in history if e.id in kept]
    assert plan_retention(survivors, policy, 10) == kept


def test_doomed_checkpoints_per_namespace() -> None:
    root, child = entries([1, 2, 3]), entries([1, 2])
    child = [e._replace(namespace="child") for e in child]
    doomed = doomed_checkpoints(root + child, RetentionPolicy(keep_last=1), 10)
    assert sorted(doomed) == sorted([("", root[0].id), ("", root[1].id), ("child", child[0].id)])


def test_garbage_keeps_delta_bases() -> None:
    rows = {
        ("", "l", "1"): ValueRow(LIST, None, b"A" * 16 + b"B" * 16),
        ("", "l", "2"): ValueRow(DELTA, None, b"C" * 16, "1", 0, 2, 1),
        ("", "l", "3"): ValueRow(LIST, None, b"D" * 16),
    }
    values, blobs = collect_garbage([("", "l", "2")], rows, [b"A" * 16, b"C" * 16, b"D" * 16])
    assert values == {("", "l", "3")} and blobs == {b"D" * 16}
    assert needed_values([("", "x", "9")], {k: None for k in rows}) == set()


# Ids, filters.


def test_checkpoint_ids() -> None:
    cid = str(uuid.uuid4())
    assert is_checkpoint_id(cid) and id_from_bytes(id_to_bytes(cid)) == cid
    for bad in ("nope", cid.upper(), cid.replace("-", ""), " " + cid[1:]):
        assert not is_checkpoint_id(bad)
        with pytest.raises(InvalidInputError):
            id_to_bytes(bad)


def test_next_id_sorts_after_a_langgraph_head() -> None:
    from langgraph.checkpoint.base.id import uuid6

    head = str(uuid6(clock_seq=1))  # UUIDv6 ids sort after today's UUIDv7s
    after = next_checkpoint_id(head)
    assert after > head and is_checkpoint_id(after)
    assert next_checkpoint_id(None) > "0"


def test_metadata_filters() -> None:
    meta = {"step": 1, "source": "loop", "tags": ["a"], "none": None}
    assert metadata_matches(meta, {"step": 1, "tags": ["a"], "none": None})
    assert not metadata_matches(meta, {"step": 2}) and not metadata_matches(meta, {"absent": None})
    in_sql, rest = split_filter({"step": 1, "tags": ["a"], 'we"ird': 1, "none": None})
    assert in_sql == {"step": 1, "none": None} and rest == {"tags": ["a"], 'we"ird': 1}


# Serializers.


class XorCipher:
    name = "xor"

    def encrypt(self, plaintext: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        return self.encrypt(ciphertext)


@given(JSON_VALUES | st.binary())
def test_serializers_round_trip(value: Any) -> None:
    plain = JsonSerializer()
    wrapped = EncryptedSerializer(CompressedSerializer(plain, min_size=8), cipher=XorCipher())
    for serde in (plain, wrapped):
        assert serde.loads_typed(serde.dumps_typed(value)) == value
    assert wrapped.loads_typed(plain.dumps_typed(value)) == value  # rows written before


def test_wrappers_tag_themselves_and_never_guess() -> None:
    serde = EncryptedSerializer(CompressedSerializer(JsonSerializer()), cipher=XorCipher())
    tag, _ = serde.dumps_typed(["x" * 400])
    assert tag == "json+zlib+xor"
    with pytest.raises(InvalidInputError):
        JsonSerializer().loads_typed(("pickle", b"\x80\x04N."))
    with pytest.raises(InvalidInputError):
        JsonSerializer().dumps_typed({1, 2})


# The SQLite header codec.


@given(
    st.dictionaries(
        st.text(min_size=1),
        st.text() | st.integers() | st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.none() | st.tuples(st.text(max_size=9), st.binary()),
    st.dictionaries(st.text(min_size=1), st.tuples(st.text(max_size=9), st.binary(max_size=64))),
)
def test_header_round_trip(versions: Any, extra: Any, inline: Any) -> None:
    plain = headers.plain_header(versions, extra, inline)
    for stored, zdict in (
        (b"\x00" + plain, None),
        (headers.pack_header(plain, headers.header_packer(plain)), plain),
    ):
        header = headers.unpack_header(stored, zdict)
        assert header == (versions, extra, inline)
        assert [type(v) for v in header[0].values()] == [type(v) for v in versions.values()]


def test_headers_of_every_version_text_format_read() -> None:
    """String versions (LangGraph's) are joined as they are; other maps name each type; maps
    whose names or values hold a separator are JSON. All three read back, typed."""
    assert headers._versions_text({"a": "1", "b": "x"}) == "\x1ca\x1f1\x1eb\x1fx"
    assert headers._versions_text({"a": 1, "b": "x"}) == "\x1da\x1fi1\x1eb\x1fsx"
    assert headers._versions_text({"a\x1e": "1"}) == '{"a\\u001e":"1"}'
    legacy = "\x1dmessages\x1fs0000000002.ab\x1estep\x1fi3\x1ef\x1ff0.5"
    assert headers._parse_versions(legacy) == {"messages": "0000000002.ab", "step": 3, "f": 0.5}
    assert headers._parse_versions("\x1c") == {} and headers._parse_versions("\x1c\x1f") == {"": ""}


@given(JSON_VALUES.filter(lambda value: isinstance(value, dict)))
def test_metadata_json_is_dumps_json(metadata: Any) -> None:
    assert headers.metadata_json(metadata) == dumps_json(metadata)


def test_metadata_that_is_not_json_is_rejected() -> None:
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    for bad in ({"x": float("nan")}, {"x": object()}, {"x": "\ud800"}, cycle):
        with pytest.raises(InvalidInputError):
            headers.metadata_json(bad)


def test_child_namespaces() -> None:
    assert is_child_namespace("sub:1", "") and not is_child_namespace("", "")
    assert is_child_namespace("sub:1|in:2", "sub:1")
    assert not is_child_namespace("sub:10", "sub:1") and not is_child_namespace("sub:1", "sub:1")


def test_fork_children_of_a_nested_fork_point() -> None:
    """Forking namespace `sub:1` at `s1` takes the latest of its own nested namespaces made
    from `s1` before `s2`, not the root's other namespaces."""

    def info(namespace: str, n: int, parents: dict[str, str] | None = None) -> CheckpointInfo:
        metadata = {} if parents is None else {"parents": parents}
        checkpoint_id = f"00000000-0000-7000-8000-{n:012d}"
        now = datetime.now(UTC)
        return CheckpointInfo("t", "x", namespace, checkpoint_id, None, n, now, metadata, {})

    s1, s2 = info("sub:1", 1), info("sub:1", 5)
    made = {"": "root", "sub:1": s1.id}
    inner = [info("sub:1|in:2", 2, made), info("sub:1|in:2", 3, made)]
    other = info("sub:1|in:3", 4, {"": "root", "sub:1": "elsewhere"})
    late = info("sub:1|in:4", 6, made)
    checkpoints = [s1, s2, *inner, other, late, info("sub:2", 2), info("", 1)]
    assert fork_children("sub:1", s1.id, checkpoints) == [inner[1]]
