"""The long-term tier of a context: the user's profile and recalled memories, in one message.

Context assembly across tiers, by priority: the system messages; the newest user turn (the
newest user message and the newest unit after it) and the running summary, cut if need be;
this block, only if neither was cut, within its share of the budget; then the rest of the
history in what is left (see `token_budget`). So memories give way before the newest user
message or the summary is cut, and older history gives way to memories. `buffer` and
`window`, which have no budget, send the block within its share.

`Recall` is what the long-term tier offers a context. A strategy packs it with `recall_block`
into the room its messages leave: greedily, profile fields first, then memories best first,
each one in if it still fits and left out (and reported) if not. The profile does not take
the room of every memory at a small budget: the fields the question asks about (its slots,
`ranking.asked_slots`, or a word they share: "home city: Faro" for "Where do I live?") go
first, the others only while the fields take at most `PROFILE_SHARE` of the block; those
left wait for the memories, then take the room still free.

Nothing is sent twice. A memory that only restates a field the block gives ("The user loves
sushi" beside "likes: sushi") is left out. A field whose every source message is a turn the
block sends, which says its value ("I moved to Faro last month." and "home city: Faro"),
is left out for that turn, which says more (when, how): the field is given (`RecallBlock.
profile_given`), not dropped. A session's context offers no memory that only repeats the
prompt: a profile memory whose field the block gives, or one whose every source message the
context sends (`_session_flows._without_repeats`).

Each line reads as the model needs it: a field by its name in words (`field_text`: "likes:
sushi", not `preference:sushi: likes`), a memory with its date when it has one worth saying
(`memory_line`: "- [2025] The user's dad died"), at the precision known, and a turn with who
said it when not the user ("- [2026-01-05] assistant: Saved."). A memory longer than its
share of the block (`memory_tokens`) is cut to the sentences that match what it was recalled
for (`excerpt`): one long story recalled for a word it shares with the question takes no
more than half of the block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from engram.context._counting import MessageCounterProtocol
from engram.memory.bm25 import tokenize
from engram.memory.entities import fold
from engram.memory.profile import field_text, profile_value
from engram.memory.queries import lexical_query, query_terms
from engram.memory.ranking import asked_slots, fills_slot
from engram.memory.timeline import metadata_time
from engram.providers._text import split_sentences
from engram.types import Message
from engram.types._memory import Memory, MemoryHit

__all__ = ["RECALL_ID", "RECALL_PREFIX", "Recall", "RecallBlock", "recall_block", "recall_room"]

RECALL_PREFIX = "What you know about the user from earlier conversations:\n"
RECALL_ID = "memories"
"""The recall block's id, unless a message of the context has it (see `unused_id`)."""


@dataclass(frozen=True, slots=True)
class Recall:
    """What the long-term tier offers a context; a strategy sends what fits of it."""

    max_tokens: int
    """The most its message may take: its share of the prompt (see `recall_room`)."""
    hits: tuple[MemoryHit, ...] = ()
    """Recalled memories, best first."""
    profile: Mapping[str, str] = field(default_factory=dict)
    """The user's profile fields, in the order they are offered."""
    query: str = ""
    """What the memories were recalled for (the newest user message): a memory too long for
    its line is cut to the sentences that match it (`excerpt`), and the profile fields it
    asks about go first (`_asked_fields`). Without it, every memory goes whole: which part
    of a long one matters is not known."""
    field_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Field -> the ids of the messages its value was taken from (none for a field set by
    hand): a recalled turn of those messages that says the value gives the field."""


@dataclass(frozen=True, slots=True)
class RecallBlock:
    """The profile fields and the memories that fit, as one system message."""

    message: Message | None
    """None when nothing fits (or nothing was recalled)."""
    kept: tuple[str, ...]
    """Ids of the memories in the message, best first."""
    dropped: tuple[str, ...]
    """Ids of recalled memories that did not fit. A memory that only restates a field in the
    message (`_restates`) is in neither: the field says it."""
    tokens: int
    """The message's chat-format token count (0 without a message)."""
    profile_dropped: tuple[str, ...] = ()
    """Keys of the profile fields that did not fit."""
    profile_given: tuple[str, ...] = ()
    """Keys of the profile fields the message gives by the turn that said them, in place of
    their own line (`_gives`)."""


def memory_line(hit: MemoryHit, text: str | None = None) -> str:
    """How a memory reads in the prompt: with its date when it has one the model may need
    (`_when`), as "- [2025] The user's dad died"; a turn that stated what has changed since
    (`ScoreParts.current` below 1: "I live in Porto." before a move) marked so, lest the
    model take it for the user's word now, as "- [2026-01-05] I live in Porto. (since
    changed)"; a turn not the user's with who said it (`_speaker`), lest the model take the
    assistant's words for what the user told it, as "- [2026-01-05] assistant: Saved.".
    `text` stands in for the memory's own: its `excerpt`, when the whole is too long."""
    memory = hit.memory
    when = _when(memory)
    text = memory.text if text is None else text
    text = f"{text} {SINCE_CHANGED}" if hit.parts.current < 1 else text
    speaker = _speaker(memory)
    if speaker is not None:
        text = f"{speaker}: {text}"
    return f"- [{when}] {text}" if when else f"- {text}"


def _speaker(memory: Memory) -> str | None:
    """Who said a turn, when not the user: its role ("assistant"), as stored with it
    (`metadata["role"]`). A turn of the user's, or one whose role was not kept, goes
    unlabelled: most recalled turns are the user's, and a label on each would cost room."""
    role = memory.metadata.get("role")
    if memory.kind != "episode" or not isinstance(role, str) or role in ("", "user"):
        return None
    return role


SINCE_CHANGED = "(since changed)"
"""The mark of a recalled line whose memory no longer (wholly) holds (`memory_line`)."""


MEMORY_TOKENS = 200
"""The most tokens a memory's text takes in the block (`memory_tokens`): a long message (a
story, a pasted document) recalled for one matching word would otherwise take the room of
the others."""
MIN_MEMORY_TOKENS = 40
"""The least a memory's text is cut to, however small the block: a sentence or two."""


def memory_tokens(limit: int) -> int:
    """The most tokens a memory's text takes in a block of at most `limit` tokens: half of
    it, at least `MIN_MEMORY_TOKENS` and at most `MEMORY_TOKENS`, so that no one memory
    takes the room of the others.

    Not less: a memory cut loses words that may be the answer. LoCoMo's turns are at most 99
    tokens: cut at 100 (a block of 200; a context of 1,000 tokens gives about 240), 3 of
    206,600 lines recalled were and evidence in context held; cut at 60, 5% were and
    in_context@2k fell from 0.88 to 0.71."""
    return min(MEMORY_TOKENS, max(MIN_MEMORY_TOKENS, limit // 2))


ELLIPSIS = "…"
"""The mark of the sentences an excerpt leaves out, where it leaves them (`excerpt`)."""


def excerpt(text: str, query: str, counter: MessageCounterProtocol, max_tokens: int) -> str:
    """`text` if within `max_tokens` (or `query` is blank), else the sentences around the
    one that best matches `query` (the most of its content words, stemmed; the first on a
    tie, the first sentence when none matches), as many as fit, with `ELLIPSIS` where
    sentences were left out: "… Then I talked about work: I'm at Google now. …". A best
    sentence longer than `max_tokens` is cut to its start. About `max_tokens` long (spaces
    join the sentences)."""
    if not query.strip() or counter.count_text(text) <= max_tokens:
        return text
    sentences = split_sentences(text)
    wanted = set(tokenize(lexical_query(query)))
    matches = [len(wanted.intersection(tokenize(sentence))) for sentence in sentences]
    best = max(range(len(sentences)), key=lambda i: (matches[i], -i), default=0)
    last = len(sentences) - 1

    def joined(first: int, end: int) -> str:
        before = f"{ELLIPSIS} " if first > 0 else ""
        after = f" {ELLIPSIS}" if end < last else ""
        return before + " ".join(sentences[first : end + 1]) + after

    if not sentences or counter.count_text(joined(best, best)) > max_tokens:
        return _sentence_start(
            sentences[best] if sentences else text, best > 0, counter, max_tokens
        )
    first = end = best
    grown = True
    while grown:  # a sentence after, then one before, while they fit
        grown = False
        if end < last and counter.count_text(joined(first, end + 1)) <= max_tokens:
            end += 1
            grown = True
        if first > 0 and counter.count_text(joined(first - 1, end)) <= max_tokens:
            first -= 1
            grown = True
    return joined(first, end)


def _sentence_start(
    sentence: str, after_others: bool, counter: MessageCounterProtocol, max_tokens: int
) -> str:
    """The start of a sentence too long for `max_tokens`, marked as cut (and as following
    sentences left out, if it does)."""
    room = max(1, max_tokens - counter.count_text(f"{ELLIPSIS} {ELLIPSIS}"))
    head = counter.truncate_text(sentence, room).rstrip()
    return f"{ELLIPSIS} {head} {ELLIPSIS}" if after_others else f"{head} {ELLIPSIS}"


def _when(memory: Memory) -> str | None:
    """The date of a memory's line: an episode's day (when it was said); for other kinds,
    since when (`_since`) and, once it ended, until when ("2021 to 2024-05-02")."""
    if memory.kind == "episode":
        return _local(memory, memory.valid_from or memory.recorded_at).date().isoformat()
    since = _since(memory)
    if memory.valid_to is None:
        return since
    if since is None:  # "until 2019": through 2019, as "2019 to 2021" reads through 2021
        last = _last_period(memory, memory.valid_to)
        return f"until {last or _date_text(memory, memory.valid_to)}"
    return (
        f"{since} to {_last_period(memory, memory.valid_to) or _date_text(memory, memory.valid_to)}"
    )


def _last_period(memory: Memory, end: datetime) -> str | None:
    """The last year or month a memory held, when its words gave its span in years or months
    ("from 2019 to 2021": it ends as 2022 begins, and reads "2019 to 2021"); else None."""
    granularity = memory.metadata.get("event_granularity")
    local = _local(memory, end)
    if granularity not in ("year", "month") or local.time() != time() or local.day != 1:
        return None
    last = (local - timedelta(days=1)).date()
    if granularity == "year":
        return str(last.year) if local.month == 1 else None
    return f"{last:%Y-%m}"


def _since(memory: Memory) -> str | None:
    """When a memory began, if that says more than its text: when its words dated it apart
    from when it was said (`_dated_apart`: "last year"), or when it ended since; not if the
    text names the year already ("... moved to Lisbon in May 2023").

    An event or fact that holds from when it was said goes undated: its source episode says
    that day, and a date on every line would cost room that evidence needs. So does one that
    does not record when it was said (`said_at`: stored before extraction recorded it, or
    added as is): whether its start is a date its words gave is not known."""
    if memory.valid_from is None:
        return None
    start = _local(memory, memory.valid_from)
    if str(start.year) in memory.text:
        return None
    if memory.valid_to is not None or _dated_apart(memory, start):
        return _date_text(memory, start)
    return None


def _dated_apart(memory: Memory, start: datetime) -> bool:
    """Whether a memory holds from another day than it was said (`said_at`), both days in
    the zone of the message that said it; False when it does not record when."""
    said = _said_at(memory)
    return said is not None and _local(memory, start).date() != said.date()


def _said_at(memory: Memory) -> datetime | None:
    return metadata_time(memory, "said_at")


def _local(memory: Memory, moment: datetime) -> datetime:
    """`moment` in the time zone of the message that said `memory` (a date grounded in a
    +02:00 message, stored as 22:00 UTC the day before, is that message's day)."""
    said = _said_at(memory)
    if said is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(said.tzinfo)


_SEASONS = {3: "spring", 6: "summer", 9: "autumn", 12: "winter"}


def _date_text(memory: Memory, moment: datetime) -> str:
    """`moment`, in the zone it was said in (`_local`): at the precision its grounding
    recorded (`_granularity`), "2025", "2025-06", "summer 2025", "week of 2025-06-02"; else
    its day, "2025-06-04"."""
    day = _local(memory, moment).date()
    granularity = _granularity(memory, day)
    if granularity == "year":
        return str(day.year)
    if granularity == "month" or (granularity == "season" and day.month not in _SEASONS):
        return f"{day:%Y-%m}"
    if granularity == "season":
        return f"{_SEASONS[day.month]} {day.year}"
    if granularity in ("week", "weekend"):
        return f"{granularity} of {day.isoformat()}"
    return day.isoformat()


def _granularity(memory: Memory, day: date) -> str | None:
    """The precision recorded (`event_granularity`) for `day`, if `day` is the date its words
    gave: its `event_date` (an episode's), else its start (a rule fact's, "last
    year"), else, known only to have ended, its end ("I lived in Porto until 2019")."""
    data = memory.metadata
    value = data.get("event_granularity")
    grounded = data.get("event_date") or _local_day(memory, memory.valid_from or memory.valid_to)
    return value if isinstance(value, str) and grounded == day.isoformat() else None


def _local_day(memory: Memory, moment: datetime | None) -> str | None:
    return None if moment is None else _local(memory, moment).date().isoformat()


def _restates(memory: Memory, shown: Mapping[str, str]) -> bool:
    """Whether `memory` only restates a field of `shown`: it fills the field's slot, about
    the user, with the field's value (the field's source, or a memory saying the same)."""
    value = shown.get(memory.attribute) if memory.attribute else None
    return (
        value is not None
        and memory.metadata.get("subject") is None
        and profile_value(memory).strip().casefold() == value.strip().casefold()
    )


PROFILE_SHARE = 0.5
"""The most of the block the profile fields the question does not ask about take while
memories wait (`recall_block`): with a memory cut to half of the block (`memory_tokens`), one
still fits."""


def recall_block(
    recall: Recall,
    counter: MessageCounterProtocol,
    *,
    space: int | None = None,
    message_id: str = RECALL_ID,
) -> RecallBlock:
    """Greedily pack the profile fields, then the memories best first, into one message of at
    most `recall.max_tokens` tokens (and `space`, if given).

    The fields the question asks about go first (`_asked_fields`), then the others while
    the fields take at most `PROFILE_SHARE` of the block; the rest wait for the memories,
    then go in the room left. A field or memory that does not fit is left out and the next
    ones are still tried, so a long one costs only itself, never the whole block. A memory
    that only restates a field in the block, or waiting, is not offered (`_restates`). A
    memory longer than `memory_tokens` of the block is cut to what matches `recall.query`
    (`excerpt`). A turn that says a field's value from the field's own messages takes the
    field's place (`_gives`).
    """
    limit = recall.max_tokens if space is None else min(recall.max_tokens, space)
    lines = {key: f"- {field_text(key, value)}" for key, value in recall.profile.items()}
    asked = _asked_fields(recall.profile, recall.query)
    pack = _Packing(counter, limit, message_id)
    waiting: list[str] = []
    for key in [*asked, *(key for key in recall.profile if key not in asked)]:
        if key in asked or pack.fields_fit(lines[key], int(PROFILE_SHARE * limit)):
            pack.add_field(key, lines[key])
        else:
            waiting.append(key)
    offered = {key: recall.profile[key] for key in [*pack.fields, *waiting]}
    hits = [hit for hit in recall.hits if not _restates(hit.memory, offered)]
    cap = memory_tokens(limit)
    given: list[str] = []
    for hit in hits:
        text = excerpt(hit.memory.text, recall.query, counter, cap)
        gives = [
            key
            for key, value in recall.profile.items()
            if key not in given and _gives(hit, text, key, value, recall)
        ]
        if pack.add_memory(hit.memory.id, memory_line(hit, text), gives):
            given += gives
    for key in waiting:
        if key not in given:
            pack.add_field(key, lines[key])
    profile_dropped = tuple(
        key for key in recall.profile if key not in pack.fields and key not in given
    )
    kept = tuple(pack.memories)
    dropped = tuple(hit.memory.id for hit in hits if hit.memory.id not in pack.memories)
    message = pack.message()
    if message is None:
        return RecallBlock(None, (), dropped, 0, profile_dropped)
    tokens = counter.count_message(message)
    return RecallBlock(message, kept, dropped, tokens, profile_dropped, tuple(given))


def _asked_fields(profile: Mapping[str, str], query: str) -> list[str]:
    """The profile's fields the question asks about, in the profile's order: those of the
    slots it asks (`asked_slots`: "home city" for "Where do I live?"), or sharing a word
    with it ("likes: hiking" for "Any hiking trails nearby?")."""
    if not query.strip():
        return []
    slots = asked_slots(query)
    terms = query_terms(query)
    return [
        key
        for key, value in profile.items()
        if fills_slot(key, slots) or not terms.isdisjoint(query_terms(field_text(key, value)))
    ]


_LABELLED = ("preference", "allergy")
"""The prefixes of the keyed fields whose value is a label ("likes", "allergic"), which the
turn says in its own words: its topic is what it says ("sushi" in "I love sushi")."""


def _gives(hit: MemoryHit, text: str, key: str, value: str, recall: Recall) -> bool:
    """Whether the line of `hit`, reading `text`, gives the field `key`: a turn, still
    current (not "since changed"), of every message the field was taken from, whose words
    say its value (as whole words, case aside; a label's topic, see `_LABELLED`). A field
    set by hand, of no message, no turn gives."""
    sources = recall.field_sources.get(key, ())
    memory = hit.memory
    if memory.kind != "episode" or hit.parts.current < 1 or not sources:
        return False
    if not set(sources).issubset(memory.source_ids):
        return False
    prefix, _, topic = key.partition(":")
    said = topic.replace("_", " ") if topic and prefix in _LABELLED else value
    wanted = re.escape(fold(said))
    return bool(wanted) and re.search(rf"(?<!\w){wanted}(?!\w)", fold(text)) is not None


class _Packing:
    """The lines of a block as it is packed: the profile fields, then the memories, in one
    message of at most `limit` tokens."""

    def __init__(self, counter: MessageCounterProtocol, limit: int, message_id: str) -> None:
        self.counter, self.limit, self.message_id = counter, limit, message_id
        self.fields: dict[str, str] = {}
        self.memories: dict[str, str] = {}

    def fields_fit(self, line: str, room: int) -> bool:
        """Whether the fields with `line` fit in a message of `room` tokens."""
        return self._fits([*self.fields.values(), line], room)

    def add_field(self, key: str, line: str) -> None:
        """Add a field's line if the block with it fits."""
        if self._fits([*self.fields.values(), line, *self.memories.values()]):
            self.fields[key] = line

    def add_memory(self, memory_id: str, line: str, gives: Sequence[str]) -> bool:
        """Add a memory's line, in place of the fields it `gives`, if the block with it fits;
        whether it did."""
        fields = [text for key, text in self.fields.items() if key not in gives]
        fit = self._fits([*fields, *self.memories.values(), line])
        if fit:
            self.memories[memory_id] = line
            for key in gives:
                self.fields.pop(key, None)
        return fit

    def message(self) -> Message | None:
        lines = [*self.fields.values(), *self.memories.values()]
        return _message(lines, self.message_id) if lines else None

    def _fits(self, lines: Sequence[str], room: int | None = None) -> bool:
        limit = self.limit if room is None else min(room, self.limit)
        return limit > 0 and self.counter.count_message(_message(lines)) <= limit


def _message(lines: Sequence[str], message_id: str = RECALL_ID) -> Message:
    return Message(role="system", content=RECALL_PREFIX + "\n".join(lines), id=message_id)


def recall_room(
    counter: MessageCounterProtocol,
    *,
    budget: int,
    reserve: int,
    tools_tokens: int,
    share: float,
) -> int:
    """The most tokens the recall block may take: `share` of what the budget leaves for
    messages (after the reply reserve, the tool schemas and the reply priming).

    A budgeted strategy gives it less when the system messages, the newest user turn and the
    summary need the room (see the module docstring).
    """
    available = budget - reserve - tools_tokens - counter.reply_tokens
    return max(0, int(share * available))
