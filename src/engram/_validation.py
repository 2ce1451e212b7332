"""Validation at the edge: bad input raises `InvalidInputError` before anything is written."""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

from engram._exceptions import InvalidInputError
from engram.types import ROLES, ContentPart, Message, ToolCall
from engram.types._conversation import with_refusal
from engram.types._time import parse_optional_time, parse_time

__all__ = [
    "CLOCK_SKEW",
    "MAX_METADATA_BYTES",
    "MessageLike",
    "check_as_of",
    "check_budget",
    "check_count",
    "check_flag",
    "check_identifier",
    "check_int",
    "check_json_object",
    "check_list",
    "check_mapping",
    "check_messages",
    "check_no_nul",
    "check_query",
    "check_tenants",
    "check_text",
    "check_time_window",
    "coerce_content",
    "first_repeat",
    "is_blank",
    "message_from",
    "to_message",
    "unanswered_tool_calls",
]

MAX_IDENTIFIER_LENGTH = 256

MessageLike = Message | Mapping[str, Any]
"""What the API takes as a message: a `Message` or an OpenAI-style dict."""


def check_text(value: str, what: str, *, max_bytes: int | None = None) -> None:
    """Reject a NUL character, text that is not valid Unicode (lone surrogates), and text larger
    than `max_bytes` in UTF-8."""
    size = _utf8_size(value, what)
    if max_bytes is not None and size > max_bytes:
        raise InvalidInputError(f"{what} is {size:,} bytes, more than the {max_bytes:,} allowed")


MAX_QUERY_LENGTH = 10_000
"""The most characters a search query may have: more than any question needs (the embedder
reads only its first 256 tokens), and a bound on what one search extracts entities from
and scores words of (a megabyte-long query would take seconds of every search's time)."""


def check_query(value: object, what: str = "query") -> str:
    """A search query: text (`check_text`) of at most `MAX_QUERY_LENGTH` characters."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {value!r}")
    if len(value) > MAX_QUERY_LENGTH:
        raise InvalidInputError(
            f"{what} is {len(value):,} characters, more than the {MAX_QUERY_LENGTH:,} allowed"
        )
    check_text(value, what)
    return value


def check_time_bound(value: str | date | None, what: str) -> datetime | None:
    """A search filter's time bound (`after`, `before`): a `datetime.date` is the start of
    that day in UTC (`after=D` keeps day D, `before=D` keeps what came before it); a
    datetime or an ISO-8601 string as `parse_time` reads it (naive means UTC); None passes.

    Raises:
        InvalidInputError: `value` is neither a date, a datetime nor an ISO-8601 string.
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        return parse_optional_time(value, what)
    return datetime.combine(value, time.min, tzinfo=UTC)


def check_time_window(after: datetime | None, before: datetime | None) -> None:
    """Refuse a search's time bounds (`check_time_bound`'s) that keep no time at all:
    `after` at or past `before` (`after` keeps its own moment, `before` only what came
    before it), which would read as "no memories" rather than as the mistake it is.

    Raises:
        InvalidInputError: `after` is not earlier than `before`.
    """
    if after is not None and before is not None and after >= before:
        raise InvalidInputError(
            f"after must be earlier than before: after is {after.isoformat()}, before is "
            f"{before.isoformat()} (no time lies between them)"
        )


def check_as_of(value: str | date | None, what: str = "as_of") -> datetime | None:
    """The moment an `as_of` asks about ("what was true then"): a `datetime.date`, or an
    ISO-8601 date without a time ("2026-03-04", as the CLI's `--as-of` takes it), is the END
    of that day in UTC, the last microsecond before the next day's start (what became true
    during March 4 is true as of March 4); a datetime or an ISO-8601 time as `parse_time`
    reads it (naive means UTC); None passes.

    Raises:
        InvalidInputError: `value` is neither a date, a datetime nor an ISO-8601 string.
    """
    if isinstance(value, datetime) or not isinstance(value, date):
        day = _iso_date(value)
        if day is None:
            return parse_optional_time(value, what)
        value = day
    return datetime.combine(value, time.max, tzinfo=UTC)


def _iso_date(value: object) -> date | None:
    """The day an ISO-8601 date string without a time names ("2026-03-04"); None for
    anything else."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_blank(text: str) -> bool:
    """Whether `text` shows nothing: only white space and invisible format characters (a
    zero-width space, a byte-order mark, a joiner), which `str.strip` keeps."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def _utf8_size(value: str, what: str) -> int:
    """The UTF-8 size of `value`, checked as `check_text` does."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, not {value!r}")
    if "\x00" in value:
        _refuse_nul(what)
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"{what} is not valid UTF-8 text: {exc.reason}") from exc


def check_identifier(value: object, what: str) -> str:
    """A non-empty id of at most 256 characters, without a NUL character."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInputError(f"{what} is longer than {MAX_IDENTIFIER_LENGTH} characters")
    check_text(value, what)
    return value


def check_tenants(ops: Iterable[object]) -> None:
    """Refuse a store batch with an op whose tenant is not an identifier (`check_identifier`):
    the storage layer keeps no record outside a tenant, and no blank tenant is everyone's."""
    for op in ops:
        if hasattr(op, "tenant"):  # an op of no known type is refused where it is run
            check_identifier(op.tenant, "tenant")


def check_list(value: object, what: str) -> tuple[Any, ...]:
    """`value`, several items given as a list, tuple, set or other iterable, as a tuple. A
    single string (or bytes) is refused, not split into one item per character."""
    if isinstance(value, str | bytes | bytearray):
        raise InvalidInputError(
            f"{what} must be a list, not the single value {value!r} (pass [{value!r}] for one)"
        )
    if not isinstance(value, Iterable):
        raise InvalidInputError(f"{what} must be a list, got {value!r}")
    return tuple(value)


def check_flag(value: object, what: str) -> bool:
    """`value`, which must be True or False (a truthy "no" is not a yes)."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False, got {value!r}")
    return value


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of a signed 64-bit integer: what every backend's integer columns hold."""


def check_int(value: object, what: str, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """`value`, which must be an integer (not a bool) from `minimum` to `maximum` (by default,
    what a database column holds)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} must be an integer, got {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidInputError(f"{what} must be from {minimum} to {maximum}, got {value}")
    return value


def check_count(value: object, what: str) -> int:
    """`value`, which must be an integer >= 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what} must be an integer >= 0, got {value!r}")
    return value


MAX_METADATA_BYTES = 64 * 1024
"""The most bytes a JSON object given as metadata may take, as compact UTF-8 JSON (a session's
state may take any size).
Metadata is a record's labels (a source, a tag, an id of the caller's), copied with the
record on every revision and read back with every hit: 64 KiB holds any such labels many
times over, while a document or a file kept there would make each row as large as itself
(text is capped too, at `max_message_bytes`). A large payload belongs in the text, or in
the caller's own storage with its id in the metadata."""

CLOCK_SKEW = timedelta(days=1)
"""How far past Engram's clock a time it is given as when something was said or recorded
may lie (a message's `created_at`, an imported record's `recorded_at`): the sender's clock
may run ahead of this one. Further, its facts would hold from then on, so the default views
(the current memories, the profile) would say what `as_of=now` does not yet."""

MAX_DEPTH = 100
"""How deep a JSON value given as metadata or state may nest (deeper would exhaust Python's
recursion limit in the JSON encoders; real metadata nests a few levels)."""


def check_mapping(value: object, what: str) -> dict[str, Any]:
    """`value`, which must be a mapping with string keys, as a dict."""
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise InvalidInputError(f"{what} must be a mapping with string keys, got {value!r}")
    _check_depth(value, what)
    return dict(value)


def _check_depth(value: object, what: str) -> None:
    """Refuse a JSON-like `value` nested deeper than `MAX_DEPTH` (a cycle too)."""
    for _ in _json_parts(value, what):
        pass


def _json_parts(value: object, what: str) -> Iterator[tuple[object, str, bool]]:
    """Each part of a JSON-like `value`: `(part, where, is_key)` for every value (the root
    `what` itself, `what['a'][0]` below it) and every key of an object (`where` is then the
    object's place). With `what` empty, a top-level key names its own place (`a[0]`).
    `InvalidInputError` if `value` nests deeper than `MAX_DEPTH` (or refers to itself)."""
    stack: list[tuple[object, str, int]] = [(value, what, 1)]
    while stack:
        item, where, depth = stack.pop()
        yield item, where, False
        if isinstance(item, Mapping):
            children: list[tuple[object, str, int]] = []
            for key, child in item.items():
                yield key, where, True
                children.append((child, f"{where}[{key!r}]" if where else str(key), depth + 1))
        elif isinstance(item, list | tuple):
            children = [(child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item)]
        else:
            continue
        if depth > MAX_DEPTH:
            raise InvalidInputError(
                f"{what or 'a value'} is nested too deeply: more than {MAX_DEPTH} levels deep"
                " (or it refers to itself)"
            )
        stack.extend(reversed(children))


def _key_place(where: str) -> str:
    """How an error names a key of the object at `where`."""
    return f"a key of {where}" if where else "a key"


def check_no_nul(value: object, what: str = "") -> None:
    """Refuse a JSON-like `value` with a NUL character (U+0000) in any text or key, naming
    where (`check_json_object` refuses one with the same words).

    No store keeps one alike: PostgreSQL's text and JSON refuse it (its JSON functions cannot
    read a document holding one, so a metadata filter over it would fail), and SQLite's JSON
    functions cut a string short at it (so a filter would match what was never stored)."""
    if not _holds_nul(value):  # the common case, without building the places
        return
    for item, where, is_key in _json_parts(value, what):
        if isinstance(item, str) and "\x00" in item:
            _refuse_nul(_key_place(where) if is_key else where)


def _holds_nul(value: object, depth: int = 0) -> bool:
    """Whether a text or key in a JSON-like `value` holds U+0000 (past `MAX_DEPTH`: True,
    so that `_json_parts` names the nesting)."""
    if isinstance(value, str):
        return "\x00" in value
    if depth > MAX_DEPTH:
        return True
    if isinstance(value, Mapping):
        return any(
            (isinstance(key, str) and "\x00" in key) or _holds_nul(item, depth + 1)
            for key, item in value.items()
        )
    if isinstance(value, list | tuple):
        return any(_holds_nul(item, depth + 1) for item in value)
    return False


def _refuse_nul(where: str) -> NoReturn:
    raise InvalidInputError(f"{where or 'a value'} contains a NUL character")


def check_object(value: object, what: str) -> dict[str, Any]:
    """`value`, which must be a mapping (a JSON object; its keys become text where stored),
    as a dict."""
    mapping = _mapping(value, what)
    _check_depth(mapping, what)
    return dict(mapping)


def _mapping(value: object, what: str) -> Mapping[Any, Any]:
    """`value`, which must be a mapping (a JSON object)."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{what} must be a mapping (a JSON object), not {type(value).__name__}"
        )
    return value


def check_json_object(
    value: object, what: str, *, max_bytes: int | None = MAX_METADATA_BYTES
) -> dict[str, Any]:
    """`value`, a JSON object every backend stores alike, as a dict: a mapping with text keys
    (a number key would come back as text), whose values are text, finite numbers, booleans,
    None, lists and such objects, nested at most `MAX_DEPTH` levels, every text (keys too)
    valid UTF-8 (no lone surrogates) without a NUL character (PostgreSQL cannot keep one),
    at most `max_bytes` as JSON (None: any size; a session's state is the application's
    data, not labels). The error names the place, e.g. `session metadata['a'][0]`."""
    mapping = _mapping(value, what)
    for item, where, is_key in _json_parts(mapping, what):  # (this walk checks the depth)
        if is_key:
            if not isinstance(item, str):
                raise InvalidInputError(
                    f"{where} has the key {item!r}: JSON object keys must be strings"
                )
            _json_text(item, _key_place(where))
        elif isinstance(item, str):
            _json_text(item, where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInputError(f"{where} is {item}, which is not a JSON number")
        elif not isinstance(item, Mapping | list | tuple | int | None):  # bool is an int
            raise InvalidInputError(
                f"{where} is {type(item).__name__} {item!r:.100}, which is not a JSON value"
            )
    if max_bytes is not None:
        _check_json_size(mapping, what, max_bytes)
    return dict(mapping)


def _check_json_size(mapping: Mapping[str, Any], what: str, max_bytes: int) -> None:
    """Refuse a JSON object (checked as one) larger than `max_bytes` as JSON."""
    if not mapping:
        return
    size = len(json.dumps(mapping, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        raise InvalidInputError(
            f"{what} is {size:,} bytes as JSON, more than the {max_bytes:,} allowed: "
            "keep a large payload in the text, or elsewhere with its id in the metadata"
        )


def _json_text(text: str, where: str) -> None:
    """Refuse `text` with a NUL character or not valid UTF-8 (a lone surrogate), saying
    `where` it is."""
    if "\x00" in text:
        _refuse_nul(where)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{where} is not valid UTF-8 text ({exc.reason}: {text[exc.start : exc.end]!r} "
            f"at character {exc.start})"
        ) from exc


def coerce_content(content: Any) -> str | tuple[ContentPart, ...]:
    """Accept text, UTF-8 bytes, content parts, or OpenAI-style part dicts."""
    if isinstance(content, str):
        return content
    if isinstance(content, bytes | bytearray):
        try:
            return bytes(content).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"message content is not valid UTF-8: {exc}") from exc
    if isinstance(content, Sequence):
        return tuple(_coerce_part(part) for part in content)
    raise InvalidInputError(f"message content must be text or content parts, not {content!r}")


def _coerce_part(part: Any) -> ContentPart:
    if isinstance(part, ContentPart):
        return part
    if isinstance(part, dict) and isinstance(part.get("type"), str):
        return ContentPart.from_openai(part)
    raise InvalidInputError(f"a content part must be a ContentPart or a dict, not {part!r}")


def check_messages(messages: Sequence[Message], *, max_bytes: int) -> None:
    """Validate each message on its own: role, text, size, tool-call shape."""
    for message in messages:
        _check_message(message, max_bytes=max_bytes)


def _check_message(message: Message, *, max_bytes: int) -> None:
    if not isinstance(message.role, str) or message.role not in ROLES:
        raise InvalidInputError(
            f"unknown role {message.role!r}; expected one of {', '.join(sorted(ROLES))}"
        )
    check_identifier(message.id, "message id")
    check_object(message.metadata, "message metadata")
    size = _metadata_size(message.metadata)
    for what, text in _texts(message):
        size += _utf8_size(text, what)
    if size > max_bytes:
        raise InvalidInputError(
            f"message {message.id} is {size:,} bytes, over the limit of {max_bytes:,} allowed"
        )
    if message.tool_calls and message.role != "assistant":
        raise InvalidInputError(f"only assistant messages carry tool calls, not {message.role}")
    if message.role == "tool" and not message.tool_call_id:
        raise InvalidInputError("a tool message needs the tool_call_id of the call it answers")
    if message.role != "tool" and message.tool_call_id is not None:
        raise InvalidInputError("only tool messages carry a tool_call_id")


def _metadata_size(metadata: Mapping[str, Any]) -> int:
    """The UTF-8 size of `metadata` as JSON (0 if empty): it counts towards a message's size,
    or a 30 MB tool artifact kept there would pass any limit."""
    if not metadata:
        return 0
    try:
        text = json.dumps(metadata, ensure_ascii=False, default=str)
    except (TypeError, ValueError) as exc:  # a key JSON cannot hold, a cycle
        raise InvalidInputError(f"message metadata is not JSON-serialisable: {exc}") from exc
    return len(text.encode("utf-8", "surrogatepass"))


def _texts(message: Message) -> Iterable[tuple[str, str]]:
    if isinstance(message.content, str):
        yield "message content", message.content
    else:
        for part in message.content:
            yield "content part", part.text or ""
    if message.name is not None:
        yield "message name", message.name
    for call in message.tool_calls:
        yield "tool call id", call.id
        yield "tool call name", call.name
        yield "tool call arguments", call.arguments
    if message.tool_call_id is not None:
        yield "tool_call_id", message.tool_call_id


def unanswered_tool_calls(messages: Sequence[Message]) -> tuple[str, ...]:
    """The tool_call_ids of tool messages whose call is not requested earlier in `messages`."""
    requested: set[str] = set()
    missing: list[str] = []
    for message in messages:
        requested.update(call.id for call in message.tool_calls)
        if message.role == "tool" and message.tool_call_id not in requested:
            missing.append(str(message.tool_call_id))
    return tuple(missing)


def check_budget(budget: int, reserve: int) -> None:
    """A positive budget, a non-negative reserve smaller than it."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise InvalidInputError(f"the token budget must be a positive integer, got {budget!r}")
    if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
        raise InvalidInputError(f"the reply reserve must be >= 0 tokens, got {reserve!r}")
    if reserve >= budget:
        raise InvalidInputError(
            f"the reply reserve ({reserve}) leaves no room in the budget ({budget})"
        )


def message_from(role: str, content: Any, fields: dict[str, Any]) -> Message:
    """A message from its role, content and other fields (OpenAI's `tool_calls` dicts, the
    other keys of an OpenAI Chat Completions message (`_openai_content`) and `created_at` as
    `to_message` takes them)."""
    content = _openai_content(role, content, fields)
    if content is None:
        content = _no_content(role, fields)
    calls = tuple(
        call if isinstance(call, ToolCall) else ToolCall.from_openai(call)
        for call in fields.pop("tool_calls", ()) or ()
    )
    created_at = fields.pop("created_at", None)
    if created_at is not None:
        fields["created_at"] = parse_time(created_at, "created_at")
    try:
        return Message(role=role, content=coerce_content(content), tool_calls=calls, **fields)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidInputError(f"bad message field: {exc}") from exc


def _no_content(role: str, fields: Mapping[str, Any]) -> str:
    """The content of a message given None as its content: empty for an assistant message
    carrying tool calls (OpenAI's form of one); refused for any other message."""
    if role == "assistant" and fields.get("tool_calls"):
        return ""
    raise InvalidInputError(
        f"message content is None: a {role} message needs text or content parts (only an "
        "assistant message carrying tool calls may have none)"
    )


_OPENAI_KEYS = ("refusal", "annotations", "audio", "function_call")
"""The keys of an OpenAI Chat Completions message besides role, content and tool calls."""


def _openai_content(role: str, content: Any, fields: dict[str, Any]) -> Any:
    """`content` with the keys of an OpenAI Chat Completions message that `Message` has no
    field for taken out of `fields` (what `message.model_dump()` of an OpenAI SDK reply gives).

    Keys that are None or empty are dropped. A `refusal` becomes a `refusal` content part
    after the content (the form the API takes it back in); `annotations` (URL citations)
    go to the metadata, as the API takes none back. `audio` and the legacy `function_call`
    are refused: Engram keeps no audio, and has no function-role message to answer a call.
    """
    for key in _OPENAI_KEYS:
        value = fields.get(key)
        if value is None or (isinstance(value, str | list | tuple | Mapping) and not value):
            fields.pop(key, None)
    if "function_call" in fields:
        raise InvalidInputError(
            "message key 'function_call' (OpenAI's legacy function calling) is not supported: "
            "request tools and store the reply's tool_calls"
        )
    if "audio" in fields:
        raise InvalidInputError(
            "message key 'audio' cannot be stored (Engram keeps no audio, and OpenAI's audio id "
            "expires): store the reply with its audio transcript as content"
        )
    if "annotations" in fields:
        fields["metadata"] = _with_annotations(fields.get("metadata"), fields.pop("annotations"))
    if "refusal" not in fields:
        return content
    refusal = fields.pop("refusal")
    if not isinstance(refusal, str):
        raise InvalidInputError(f"message key 'refusal' must be text, not {refusal!r:.200}")
    if role != "assistant":
        raise InvalidInputError(f"message key 'refusal' is for assistant messages, not {role!r}")
    return with_refusal(coerce_content(content or ""), refusal)


def _with_annotations(metadata: object, annotations: object) -> dict[str, Any]:
    """`metadata` (None: none) with `annotations`, a list of objects, under `annotations`."""
    kept = check_mapping(metadata or {}, "message metadata")
    if not isinstance(annotations, list | tuple) or not all(
        isinstance(item, Mapping) for item in annotations
    ):
        raise InvalidInputError(
            f"message key 'annotations' must be a list of objects, not {annotations!r:.200}"
        )
    listed = [dict(item) for item in annotations]
    if kept.setdefault("annotations", listed) != listed:
        raise InvalidInputError(
            "message key 'annotations' and the metadata's 'annotations' differ: give one"
        )
    return kept


def to_message(item: MessageLike) -> Message:
    """A `Message`, or an OpenAI-style dict, as a `Message`: content coerced, a naive or
    ISO-string `created_at` taken as UTC (an aware one keeps its zone: "yesterday" is the
    speaker's yesterday). `check_messages` checks the rest (role, texts, sizes)."""
    if isinstance(item, Message):
        moment = parse_time(item.created_at, "created_at")
        content = _given_content(item)
        if moment is item.created_at and content is item.content:
            return item
        return replace(item, created_at=moment, content=content)
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"a message must be a Message or a mapping, not {item!r}")
    fields = dict(item)
    role = fields.pop("role", None)  # checked with the rest by `check_messages`
    content = fields.pop("content", "")
    return message_from(role, content, fields)


def _given_content(message: Message) -> str | tuple[ContentPart, ...]:
    """The content of a `Message` built by the caller, as a dict's would be taken: None only
    for an assistant message carrying tool calls, a list of parts as a tuple."""
    content: Any = message.content
    if content is None:
        return _no_content(message.role, {"tool_calls": message.tool_calls})
    if isinstance(content, str | tuple):
        return content
    return coerce_content(content)


_EXPORTS = {
    "engram.memories/": ("memory", "Engram.memories.import_ (engram memories import)"),
    "engram.session/": ("session", "Engram.import_session (engram sessions import)"),
}
"""Each export format's prefix: what it is called, and what imports it."""


def check_export_format(data: Any, expected: str | tuple[str, ...]) -> None:
    """Refuse what is not an export of format `expected` (say `engram.session/1`, or the
    versions this Engram reads, the newest last), saying what it is: an export of the other
    kind, or of another (a later Engram's) version."""
    formats = (expected,) if isinstance(expected, str) else expected
    found = data.get("format") if isinstance(data, Mapping) else None
    if found in formats:
        return
    prefix = formats[-1].rpartition("/")[0] + "/"
    kind = _EXPORTS[prefix][0]
    if isinstance(found, str) and found.startswith(prefix):
        readable = " or ".join(repr(version) for version in formats)
        raise InvalidInputError(
            f"unsupported {kind} export format {found!r}: this Engram reads {readable} "
            "(an export of a newer Engram needs that version)"
        )
    for other, (other_kind, importer) in _EXPORTS.items():
        if other != prefix and isinstance(found, str) and found.startswith(other):
            raise InvalidInputError(
                f"this is a {other_kind} export, not a {kind} export: import it with {importer}"
            )
    raise InvalidInputError(f"not an Engram {kind} export (format {formats[-1]!r})")


def first_repeat(values: Iterable[object]) -> tuple[int, int] | None:
    """The position of the first value (None aside) that an earlier one repeats, with the
    earlier one's; None if every value is unique."""
    seen: dict[object, int] = {}
    for index, value in enumerate(values):
        if value is not None and (first := seen.setdefault(value, index)) != index:
            return index, first
    return None


def check_profile_fields(fields: Mapping[str, object], max_bytes: int) -> None:
    """Check the names and text values of profile fields: a name of at most
    `MAX_IDENTIFIER_LENGTH` characters, a value no larger than a message may be."""
    for field, value in fields.items():
        if len(field) > MAX_IDENTIFIER_LENGTH:
            raise InvalidInputError(
                f"a profile field's name is longer than {MAX_IDENTIFIER_LENGTH} characters"
            )
        check_text(field, "a profile field's name")
        if isinstance(value, str):
            check_text(value, f"profile field {field!r}", max_bytes=max_bytes)
