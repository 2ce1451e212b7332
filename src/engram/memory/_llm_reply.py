"""Reading an extraction reply from a (possibly small, local) model: repair, then validate.

Small models wrap JSON in code fences or prose, leave trailing commas, use single quotes, stop
mid-object when they hit `max_tokens`, answer with a bare list, or put a word where a number
belongs. `parse_reply()` repairs the text with `json-repair` (a dependency-free library made
for exactly this), accepts the common shapes, validates each item on its own with lenient
coercions, and drops only the items that cannot be read. It raises `ReplyError` only when
nothing usable came back, so the caller can retry once with the error message.

What the model wrote is cleaned before anything is kept (`storable_text`): NUL and the other
control characters that are not whitespace, and lone surrogates, are removed, since no store
takes them (PostgreSQL refuses NUL in text) and none of them means anything in a memory. A
field that is left empty counts as missing, and an item whose text runs on past any memory
(`_TEXT_CHARS`) is dropped. A reply cut off by `max_tokens` loses its unfinished last item
rather than storing half a sentence.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal, get_args

from json_repair import repair_json
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engram._exceptions import ProviderError
from engram.memory._phrases import slug
from engram.memory.candidates import ENTITY_KINDS, EntityKind
from engram.providers.openai import storable_text, without_reasoning

__all__ = ["MAX_ITEMS", "ReplyEntity", "ReplyError", "ReplyItem", "parse_reply", "reply_schema"]

MAX_ITEMS = 100
"""Memories taken from one reply (a batch of at most 20 messages): a server that ignores
`max_tokens` can run on for thousands, each embedded and revised; the rest are dropped."""

ReplyKind = Literal["fact", "preference", "profile", "event"]
_KINDS: frozenset[str] = frozenset(get_args(ReplyKind))
_LEVELS = {"very high": 0.9, "high": 0.8, "medium": 0.5, "moderate": 0.5, "low": 0.2}
_KIND_ALIASES = {
    "organization": "organisation",
    "org": "organisation",
    "company": "organisation",
    "location": "place",
    "city": "place",
    "country": "place",
    "people": "person",
}
_SLOT_ALIASES = {
    "city": "home_city",
    "current_city": "home_city",
    "home": "home_city",
    "hometown": "origin",
    "lives_in": "home_city",
    "location": "home_city",
    "residence": "home_city",
    "birthplace": "origin",
    "company": "employer",
    "workplace": "employer",
    "works_at": "employer",
    "job": "occupation",
    "job_title": "occupation",
    "profession": "occupation",
    "spouse": "partner",
    "marital_status": "relationship_status",
    "university": "school",
    "college": "school",
    "diet_type": "diet",
    "dietary_preference": "diet",
}
"""Slot names small models write for the ones the prompt lists (and the rules fill)."""
_TEXT_KEYS = ("text", "memory", "fact", "content")
"""The keys of an item's text: the schema's, then those small models use instead."""
_SOURCE_DIGITS = 9  # a message number longer than this is no message of a batch
_TEXT_CHARS = 2000
"""The longest memory text kept: a memory is a sentence or two; a longer one is a model
running on (past `max_tokens`, on a server that ignores it), and would outgrow the
largest message a store accepts (`max_message_bytes`), which no export could re-import."""


class ReplyError(ProviderError):
    """The model answered nonsense: no usable memories list (the flow retries, then falls back;
    it never escapes the extractor)."""


def _as_text(value: Any) -> str | None:
    """A scalar as clean, stripped text (None for containers, and numbers too long to print)."""
    if value is None or isinstance(value, dict | list):
        return None
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an int of more digits than Python prints
        return None
    return storable_text(text).strip()


def _unit(value: Any, default: float) -> float:
    """A 0..1 score from a number, a numeric string, a percentage or a word like `high`."""
    if isinstance(value, bool):
        return default
    if isinstance(value, str):
        text = value.strip().lower().rstrip("%")
        if text in _LEVELS:
            return _LEVELS[text]
        try:
            value = float(text) / (100 if value.strip().endswith("%") else 1)
        except ValueError:
            return default
    if not isinstance(value, int | float):
        return default
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float: no score
        return default
    if not math.isfinite(number):
        return default
    if number > 1 and number <= 10:  # a 1-10 scale
        number /= 10
    return min(1.0, max(0.0, number))


_LETTERS = re.compile(r"[^\W\d_]{2,}")
"""A word: two letters or more, in any script."""
_PLACEHOLDERS = frozenset("null none nil nan undefined unknown tbd todo text memory".split())
"""What a model writes for a text it has not got ("null", "N/A"), or its field's name echoed
from the prompt's template ("text")."""


def _says_nothing(text: str) -> bool:
    """Whether `text` holds no word but placeholders (`_PLACEHOLDERS`): "...", "N/A", "null",
    "???", "---", "<text>". Stored, it would be recalled into every prompt as a memory."""
    return all(word.casefold() in _PLACEHOLDERS for word in _LETTERS.findall(text))


class ReplyEntity(BaseModel):
    """One entity of a reply item."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    kind: EntityKind = "other"

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        return storable_text(value).strip() if isinstance(value, str) else value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        kind = (_as_text(value) or "other").lower()
        kind = _KIND_ALIASES.get(kind, kind)
        return kind if kind in ENTITY_KINDS else "other"


class ReplyItem(BaseModel):
    """One memory as the model states it; lenient on every field but `text`."""

    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=3, max_length=_TEXT_CHARS)
    kind: ReplyKind = "fact"
    attribute: str | None = None
    value: str | None = None
    subject: str | None = None
    importance: float = 0.5
    confidence: float = 0.8
    sources: list[int] = Field(default_factory=list)
    when: str | None = None
    entities: list[ReplyEntity] = Field(default_factory=list)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return storable_text(value).strip() if isinstance(value, str) else value

    @field_validator("text")
    @classmethod
    def _says_something(cls, value: str) -> str:
        """A text with a word in it (`_says_nothing`): "...", "N/A", "???" are no memory."""
        if _says_nothing(value):
            raise ValueError("the text says nothing")
        return value

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        kind = (_as_text(value) or "fact").lower()
        return kind if kind in _KINDS else "fact"

    @field_validator("attribute", "value", mode="before")
    @classmethod
    def _slot_text(cls, value: Any) -> str | None:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # ["Lisbon"]: the one value, listed
        return cls._optional_text(value)

    @field_validator("subject", "when", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        text = _as_text(value)
        return text if text and text.lower() not in ("null", "none", "n/a") else None

    @field_validator("attribute")
    @classmethod
    def _slot(cls, value: str | None) -> str | None:
        """The slot as the rules spell it: "Home City", "home-city" and "HOME_CITY" are one
        `home_city`, "favourite colour" is `favorite_color`, "city" and "location" are
        `home_city` (`_SLOT_ALIASES`; else two home cities, neither retiring the other); a
        `preference:` topic as the rules slug it."""
        if value is None:
            return None
        name, colon, topic = value.partition(":")
        slot = slug(name.replace("_", " ").replace("-", " "))
        slot = _SLOT_ALIASES.get(slot, slot)
        if colon and topic.strip():
            slot = f"{slot}:{slug(topic.replace('_', ' '))}"
        return slot or None

    @field_validator("importance", mode="before")
    @classmethod
    def _importance(cls, value: Any) -> float:
        return _unit(value, 0.5)

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence(cls, value: Any) -> float:
        return _unit(value, 0.8)

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> list[int]:
        values = value if isinstance(value, list) else [value]
        found: list[int] = []
        for item in values:
            text = (_as_text(item) or "").strip("[]#")
            if text.isdigit() and len(text) <= _SOURCE_DIGITS:
                found.append(int(text))
        return found

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, value: Any) -> list[ReplyEntity]:
        """The entities that validate; one without a usable name is dropped alone."""
        values = value if isinstance(value, list) else []
        entities: list[ReplyEntity] = []
        for item in values:
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                continue
            raw = {"name": item["name"], "kind": item.get("kind", item.get("type"))}
            try:
                entities.append(ReplyEntity.model_validate(raw))
            except ValidationError:
                continue
        return entities


def reply_schema() -> dict[str, Any]:
    """The JSON schema asked of the model (`response_format` type `json_schema`)."""
    entity = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": sorted(ENTITY_KINDS)},
        },
        "required": ["name", "kind"],
    }
    item = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "kind": {"type": "string", "enum": sorted(_KINDS)},
            "attribute": {"type": ["string", "null"]},
            "value": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "importance": {"type": "number"},
            "confidence": {"type": "number"},
            "sources": {"type": "array", "items": {"type": "integer"}},
            "when": {"type": ["string", "null"]},
            "entities": {"type": "array", "items": entity},
        },
        "required": ["text", "kind", "subject", "sources"],
    }
    return {
        "type": "object",
        "properties": {"memories": {"type": "array", "items": item, "maxItems": MAX_ITEMS}},
        "required": ["memories"],
    }


_REPAIRED_CHARS = 6000
"""The most of a reply json-repair reads: it takes time growing with the square of its input
(seconds for 10,000 characters of prose with brackets), and a reply within the extraction's
`max_tokens` is shorter; past it, a server that ignores `max_tokens` ran on."""
_MEMORIES = re.compile(r"""\{\s*["']?memories["']?\s*:""")
"""Where the `{"memories": ...}` object starts."""


def _load(text: str) -> tuple[str, Any]:
    """The reply's JSON text, from its `{"memories": ...}` object on if it has one, and the
    repaired JSON of it.

    Prose around the object ("From [0]: ...", "<think>...</think>") holds scraps that
    json-repair reads too, answering a list of every JSON value found: the object is the
    one that holds the memories.
    """
    text = without_reasoning(text)  # a thought is no answer, even a draft of one
    start = _MEMORIES.search(text)
    if start:
        text = text[start.start() :]
    if not _is_json(text):
        text = text[:_REPAIRED_CHARS]  # the cut leaves its last item open: it is dropped
    try:
        data = repair_json(text, return_objects=True)
    except Exception as exc:  # a third-party parser on untrusted text: any failure = no JSON
        raise ReplyError(f"the reply is not JSON ({type(exc).__name__})") from exc
    if start and isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]  # the object, then the scraps of the prose after it
    return text, data


def _items(data: Any) -> list[Any]:
    """The list of memory items in whatever shape the model chose."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("memories"), list):
            return list(data["memories"])
        if any(key in data for key in _TEXT_KEYS):
            return [data]  # a single memory, not wrapped
        lists = [value for value in data.values() if isinstance(value, list)]
        if lists:
            return list(lists[0])  # {"facts": [...]}, {"items": [...]}
    raise ReplyError('expected a JSON object {"memories": [...]}')


def parse_reply(text: str, *, truncated: bool = False) -> list[ReplyItem]:
    """The valid memory items of a model's reply.

    Args:
        text: The model's reply, as returned.
        truncated: The reply was cut off (`finish_reason` `length`). Cut off or not, a last
            item the text leaves open is dropped: some servers report a cut as `stop`.

    Returns:
        The items that validate (possibly none, if the model found nothing to remember).

    Raises:
        ReplyError: Empty reply, no JSON, no list of memories, no item validates, or the cut
            left no complete item.
    """
    if not text or not text.strip():
        raise ReplyError("the reply is empty")
    text, data = _load(text)
    if data == "" or data is None:
        raise ReplyError("the reply contains no JSON")
    raw_items = _items(data)
    # A bare string is taken for a memory's text only from a reply that is JSON as sent: the
    # repair turns any scrap (`{not json`) into a list of strings.
    strings_are_texts = _is_json(text)
    # The repair closes what the model had not finished: a last item left open was cut off,
    # whatever `finish_reason` says (LocalAI, or LiteLLM in front of Ollama, say `stop`).
    if raw_items and not strings_are_texts and not _last_item_closed(text, data):
        raw_items = raw_items[:-1]
        if not raw_items:
            cut = "cut off by max_tokens" if truncated else "cut off"
            raise ReplyError(f"the reply was {cut} before its first memory ended")
    items: list[ReplyItem] = []
    first_error: str | None = None
    for raw in raw_items:
        candidate = {"text": raw} if isinstance(raw, str) and strings_are_texts else _texted(raw)
        try:
            items.append(ReplyItem.model_validate(candidate))
        except ValidationError as exc:
            first_error = first_error or _describe(exc)
        if len(items) == MAX_ITEMS:
            break
    if raw_items and not items:
        raise ReplyError(f"no memory item is valid: {first_error}")
    return items


def _texted(raw: Any) -> Any:
    """An item keyed `memory`, `fact` or `content` instead of `text` (`_TEXT_KEYS`), with its
    `text`; anything else as it is."""
    if not isinstance(raw, dict) or "text" in raw:
        return raw
    key = next((key for key in _TEXT_KEYS if key in raw), None)
    return raw if key is None else {**raw, "text": raw[key]}


def _last_item_closed(text: str, data: Any) -> bool:
    """Whether the last memory item's object was closed in `text` (as the model wrote it).

    `data` (the repaired reply) tells where the items sit: in a top-level list (depth 1), in a
    list inside the top-level object (depth 2), or the object itself is the item (depth 0).
    """
    if isinstance(data, list):
        depth, start = 1, text.find("[")
    else:
        single = isinstance(data, dict) and any(key in data for key in _TEXT_KEYS)
        depth, start = (0 if single else 2), text.find("{")
    if start < 0:
        return False
    stack: list[str] = []
    in_string = escaped = False
    item_open = False
    for char in text[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            if char == "{" and len(stack) == depth:
                item_open = True
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
            if char == "}" and len(stack) == depth:
                item_open = False
    return not item_open


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _describe(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ())) or "item"
    return f"{where}: {problem.get('msg', 'invalid')}"
