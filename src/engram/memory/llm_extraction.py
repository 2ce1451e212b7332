"""LLM extraction: one structured-output call per batch of messages, fatal only if the
endpoint refuses the settings.

`LLMExtractor.extract(messages)` (and `aextract`) first runs the deterministic extractor: its
episodes are kept whatever the model does wrong (a malformed reply, a timeout, a 5xx or 429:
the batch falls back), so the input is not lost; a configuration error raises before anything
is written (the caller adds again). Then, per batch of messages and within the
`ExtractionBudget`, it asks the model for memories as JSON (`response_format` json_schema),
repairs and validates the reply, retries once with the error message when the reply is
unusable (with twice the reply tokens if a reasoning model's thoughts used them up), and falls
back to the deterministic facts of that batch when the retry fails too, the provider fails
(unavailable, timed out), or the budget is spent. A refused key, model or base_url
(`ProviderConfigError`) is raised instead: every later call would fail alike. What the prompt
cuts off a long message (past `_MESSAGE_CHARS`) is left to the rules: the model never saw it.

What a model gets wrong costs only itself: an item citing a message the batch does not hold
is made up, and dropped; one below `MIN_SLOT_CONFIDENCE`, or whose city, employer, school
or partner no message of the batch names, fills no slot; and the rules' slot facts of a
batch whose slot (of the same person) the model's facts leave empty are kept
(`_with_rules_slots`): "I moved to Berlin" retires the stored home city, whatever the model
made of it. A correction of the rules' ("Sorry, I meant Lisbon, not Porto") marks the
model's fact of the value it gives as one (`_with_correction`): the old value never held.

Whom an item is about is its `subject`, else what its text opens on (`_subject_in`): "Marta
lives in Madrid" is Marta's, never the user's home. An item the model dates after its
message (`when`) is a plan (`_planned`): no slot value until it happens. The prompt shows
the turns of other speakers just before each message as context (`_context`: the question a
reply answers), never as sources, when the budget holds them.

Example:
    ```python
    extractor = LLMExtractor(OpenAIChatModel("llama3.2", base_url=...), max_calls=2)
    result = extractor.extract(messages, user_name="Ana")
    result.candidates      # episodes + the model's facts (or the rules' facts, on fallback)
    result.fallbacks       # why a batch fell back, if any did
    ```
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from engram.memory._kin_rules import KIN
from engram.memory._llm_reply import ReplyError, ReplyItem, parse_reply, reply_schema
from engram.memory._partners import PARTNERS
from engram.memory._patterns import NAME, PRONOUNS
from engram.memory._phrases import date_phrase
from engram.memory._places import is_well_known_place
from engram.memory._revision_words import says_past
from engram.memory.candidates import (
    NO_VALUE,
    SLOT_RELATIONS,
    Candidate,
    EntityKind,
    EntityMention,
    RelationMention,
)
from engram.memory.entities import extract_entities, fold
from engram.memory.extraction import extract
from engram.memory.llm_flow import (
    ExtractionBudget,
    LLMFlow,
    LLMRequest,
    adrive,
    ask,
    drive,
    prompt_tokens,
)
from engram.memory.queries import STOPWORDS
from engram.memory.temporal import ground
from engram.memory.texts import SESSION_KEY
from engram.providers._base import ChatModelProtocol
from engram.providers.openai import without_reasoning
from engram.types._conversation import Message

__all__ = ["ExtractionResult", "LLMExtractor", "extraction_flow"]

logger = logging.getLogger("engram.memory")

_WORD = re.compile(r"\w+")
_MESSAGE_CHARS = 1500  # of one message in the prompt: enough for its facts
MIN_SLOT_CONFIDENCE = 0.5
"""The least confidence the model may give an item that fills a slot (`attribute`): below
it, the item is kept as a plain fact, which supersedes no stored value and fills no profile
field ("Ana lives in Tokyo", confidence 0.2, never retires "Ana lives in Lisbon")."""
_INSTRUCTIONS = """\
You extract long-term memories from a conversation. Reply with JSON only, no prose:
{"memories": [{"text": ..., "kind": ..., "attribute": ..., "value": ..., "subject": ...,
"importance": ..., "confidence": ..., "sources": [...], "when": ..., "entities": [...]}]}
- text: one self-contained sentence in the third person that names the person \
("Ana is vegetarian", "Ana moved to Lisbon in June 2023").
- kind: "profile" (name, age, home, job, partner, diet...), "preference", "fact" or "event".
- attribute: for a single-valued fact, its slot: name, age, diet, home_city, origin, \
employer, occupation, school, partner, relationship_status, favorite_<thing>, \
preference:<topic>; otherwise null. value: the slot's value.
- subject: the name of the person it is about ("user" for the user), never left out: \
a fact about someone else ("My sister Marta lives in Madrid") is theirs, subject "Marta", \
and fills none of the user's slots.
- importance and confidence: 0 to 1.
- sources: the [numbers] of the messages it comes from.
- when: the ISO date (YYYY-MM-DD) it happened or became true (for a plan, the date \
planned), resolved against the message's date, or null.
- entities: [{"name": ..., "kind": "person|organisation|place|product|event|other"}].
Keep lasting facts, preferences, plans and notable events about the people; skip small talk.
If there is nothing to remember, reply {"memories": []}."""


@dataclass(frozen=True, slots=True)
class ExtractionResult:
    """The candidates of one extraction and how they were obtained."""

    candidates: tuple[Candidate, ...]
    """Episodes (always) and facts (the model's, or the rules' where a batch fell back), in
    message order, each message's episode first."""
    llm_batches: int = 0
    """Batches whose facts came from the model."""
    fallbacks: tuple[str, ...] = ()
    """One reason per batch that fell back to the deterministic facts."""


def _shown(message: Message) -> tuple[str, str]:
    """What the prompt shows of `message`, and what it leaves out: at most `_MESSAGE_CHARS`,
    cut after the last sentence that fits (else a word), never inside a word ("in Ber")."""
    text = " ".join(message.text.split())
    if len(text) <= _MESSAGE_CHARS:
        return text, ""
    head = text[: _MESSAGE_CHARS + 1]
    cut = max(head.rfind(". "), head.rfind("! "), head.rfind("? ")) + 1 or head.rfind(" ")
    cut = cut if cut > 0 else _MESSAGE_CHARS
    return text[:cut].rstrip(), text[cut:].lstrip()


_ABOUT_USER = (
    "A message marked (memory) is a text the user gave to be remembered, not a turn of "
    'talk: it states facts about the user, in whatever words ("Lives in Paris", '
    '"Vegetarian", "The user works at Acme": the user lives in Paris, is vegetarian, '
    "works at Acme), unless it names someone else.\n"
)
"""What the prompt says of the memories given as text (`Memories.add(text)`): the user's."""


_CONTEXT = (
    "A line marked (context) is a turn of another speaker, shown only so that the numbered "
    'message after it can be understood ("Rome, since last month" answering "Which city do '
    "you live in now?\"): it is no statement of the user's, and no source to cite.\n"
)
"""What the prompt says of the turns shown as context (`_Told.before`)."""
_CONTEXT_TURNS = 2
"""The most turns of other speakers shown before a message: the question it answers."""
_CONTEXT_CHARS = 300
"""The most of a turn shown as context: its gist (a question is short)."""


@dataclass(frozen=True, slots=True)
class _Told:
    """What the prompt says, and the reading of a reply knows, besides a batch's messages."""

    user_name: str | None = None
    about_user: frozenset[str] = frozenset()
    """The ids of the memories given as text (`extraction_flow`'s `about_user`)."""
    named: tuple[str, ...] = ()
    """The names the rules say the user has ("Hi, I'm Ana"): the user's, not someone else's."""
    before: Mapping[str, tuple[Message, ...]] = field(default_factory=dict)
    """Per message id, the turns of other speakers just before it (`_context`)."""

    def shown_before(self, batch: Sequence[Message]) -> list[Message]:
        return [turn for message in batch for turn in self.before.get(message.id, ())]


def _context(
    messages: Sequence[Message], history: Sequence[Message], fact_roles: Collection[str]
) -> dict[str, tuple[Message, ...]]:
    """Per turn of `messages` whose facts are read (`fact_roles`), the turns of other speakers
    of its session just before it (at most `_CONTEXT_TURNS`, in `history` too): the question
    a reply answers ("Which city do you live in now?" before "Rome, since last month")."""
    turns = [*history, *messages]
    before: dict[str, tuple[Message, ...]] = {}
    for index, message in enumerate(turns[len(history) :], start=len(history)):
        if message.role not in fact_roles:
            continue
        found: list[Message] = []
        for turn in reversed(turns[:index]):
            if turn.session_id != message.session_id or turn.role in fact_roles:
                break
            if turn.text.strip():
                found.insert(0, turn)
            if len(found) == _CONTEXT_TURNS:
                break
        if found:
            before[message.id] = tuple(found)
    return before


def _line(message: Message, mark: str, *, memory: bool = False, chars: int | None = None) -> str:
    """One line of the prompt's conversation: `mark`, date, speaker and what is shown."""
    speaker = message.name or ("user" if message.role == "user" else "assistant")
    speaker += " (memory)" if memory else ""
    text = _shown(message)[0][:chars]
    return f"{mark} ({message.created_at.date().isoformat()}) {speaker}: {text}"


def _prompt(batch: Sequence[Message], told: _Told, *, context: bool = True) -> list[dict[str, Any]]:
    """The extraction prompt of `batch`: its messages numbered, each with its date and
    speaker; the memories given as text (`about_user`) marked as the user's statements; with
    `context`, the turns of others before each (`_Told.before`), marked as no statement."""
    lines = []
    for index, message in enumerate(batch):
        for turn in told.before.get(message.id, ()) if context else ():
            lines.append(_line(turn, "(context)", chars=_CONTEXT_CHARS))
        lines.append(_line(message, f"[{index}]", memory=message.id in told.about_user))
    about = f"The user is {told.user_name}.\n" if told.user_name else ""
    if any(message.id in told.about_user for message in batch):
        about += _ABOUT_USER
    if context and told.shown_before(batch):
        about += _CONTEXT
    return [
        {"role": "system", "content": _INSTRUCTIONS},
        {"role": "user", "content": about + "Conversation:\n" + "\n".join(lines)},
    ]


_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "memories", "schema": reply_schema(), "strict": False},
}


def _stated_when(item: ReplyItem, reference: datetime) -> datetime | None:
    """The time the model gives the item (`when`): its ISO date, or a grounded expression."""
    if not item.when:
        return None
    try:
        day = date.fromisoformat(item.when[:10])
        return datetime.combine(day, time(), tzinfo=reference.tzinfo)
    except ValueError:
        grounded = ground(item.when, reference)
        if not grounded or _recurs_in_text(item, reference):
            return None
        return grounded[0].start


def _recurs_in_text(item: ReplyItem, reference: datetime) -> bool:
    """Whether the item's text says its `when` recurs ("Saturday" for "Ana swims every
    Saturday"): the text names it, and grounds no time where it does (`ground` dates no
    recurring time), so the habit is true from when it was said, not from next Saturday."""
    said = (item.when or "").strip().casefold()
    where = item.text.casefold().find(said) if said else -1
    if where < 0:
        return False
    end = where + len(said)
    times = ground(item.text, reference)
    return not any(t.position < end and where < t.position + len(t.span) for t in times)


def _when(item: ReplyItem, anchor: Message, stated: datetime | None) -> datetime:
    """The item's validity start: the time the model gives it (`stated`, `_stated_when`),
    else (as the rules do) the first time its text names ("Ana adopted a cat yesterday"),
    else the message time."""
    if stated is not None:
        return stated
    grounded = ground(item.text, anchor.created_at)
    return grounded[0].start if grounded else anchor.created_at


def _planned(stated: datetime | None, anchor: Message) -> bool:
    """Whether the model dates the item (`stated`, `_stated_when`) after the day of its
    message: a plan ("Ana will move to Rome", when 2027-03-01), as the rules file one ("The
    user plans to move to Rome in March 2027"), no slot value yet, and it ends nothing now."""
    return stated is not None and stated.date() > anchor.created_at.date()


_RELATIVE = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|ago|last|next|this|past|coming)\b", re.IGNORECASE
)
"""What makes a time expression relative to when it was said ("last week", "2 days ago")."""
_PREPOSITION = re.compile(r"\b(?:since|from|until|till|by|before|after|during|for)\s+$", re.I)


def _absolute(text: str, reference: datetime) -> str:
    """`text` with the relative times it names made absolute, as the rules write them ("Ana
    adopted a cat yesterday", said on 10 January 2026: "... on 9 January 2026"): kept as
    said, "yesterday" would be wrong from the next day on."""
    for mention in reversed(ground(text, reference)):
        if not _RELATIVE.search(mention.span):
            continue
        before, after = text[: mention.position], text[mention.position + len(mention.span) :]
        phrase = date_phrase(mention)
        if _PREPOSITION.search(before) or after.startswith("'s"):
            phrase = phrase.split(" ", 1)[1]  # "since 2025", "2025's", not "since in 2025"
        text = before + (phrase if before else phrase[0].upper() + phrase[1:]) + after
    return text


_USER_WORDS = frozenset({"user", "i", "me", "myself"})
"""What a model may call the user (`fold` drops a leading "the": "the user" is "user")."""


def _called(name: str) -> set[str]:
    """The folded forms a model calls a person named `name` by: the name, and its first
    word ("Ana" for the user "Ana Silva", whom the prompt names in full)."""
    full = fold(name)
    return {full, full.split(" ", 1)[0]} if full else set()


def _user_names(
    items: Sequence[ReplyItem],
    batch: Sequence[Message],
    user_name: str | None,
    said: Collection[str] = (),
) -> frozenset[str]:
    """The folded names that mean the user (`_called`): `user_name`'s; without one, as in
    the rules, the speakers' of the batch and the names the user is said to have ("Hi, I'm
    Ana"), by the rules (`said`) or by the model."""
    if user_name:
        return _USER_WORDS | _called(user_name)
    names = {form for message in batch if message.name for form in _called(message.name)}
    names |= {form for name in said for form in _called(name)}
    for item in items:
        if item.attribute == "name" and item.value:
            if item.subject is None or fold(item.subject) in _USER_WORDS | _called(item.value):
                names |= _called(item.value)
    return _USER_WORDS | names


_OPENING_NAME = re.compile(rf"^\s*{NAME}")
"""The name a text opens on ("Marta lives in Madrid", "Ana's sister ...")."""
_USER_OPENING = re.compile(r"^\s*(?i:(?:the\s+)?user|i|my)(?![\w-])")
"""A text opening on the user ("The user's sister ...", "My sister ...")."""
_KIN_AFTER = re.compile(
    r"^(?:['’]s)?\s+(?i:(?:(?:good|close|old|best|new|little|big|older|younger|twin)\s+)?"
    rf"(?P<role>{PARTNERS}|{KIN}))\b(?:,?\s+{NAME})?"
)
"""After a possessive, the kin, partner or friend it names, and their name if said ("Ana's
sister Marta", "the user's mom")."""
_KIN_WORD = re.compile(rf"(?i:(?:.*['’]s\s+)?(?:{PARTNERS}|{KIN}))")
"""A person named by their tie to someone ("Mom", "the user's sister"; `fullmatch`)."""


def _subject_in(item: ReplyItem, user: frozenset[str]) -> str | None:
    """Whom the item's text is about when it opens on someone other than the user (`user`):
    "Marta lives in Madrid" is Marta's, "Ana's sister Marta ..." Marta's, "The user's mom
    lives in Porto" the user's mom's (as the rules name her); None for the user, and for a
    text opening on no one: a pronoun, a place ("Paris is home"), the slot's value, a word
    that is no name ("Lives in Paris", mem0's way), or a name the model lists as no person."""
    text = item.text
    opening = _USER_OPENING.match(text) or _OPENING_NAME.match(text)
    if opening is None:
        return None
    owner, rest = opening.group().strip(), text[opening.end() :]
    if owner.endswith("'s"):  # `NAME` takes a possessive in ("Ana's")
        owner, rest = owner[:-2], owner[-2:] + rest
    # "Ana Silva" for the user "Ana" may be her full name: no one else's, by the text alone.
    mine = fold(owner) == "my" or bool(_called(owner) & user)
    kin = _KIN_AFTER.match(rest)
    if kin is not None and (rest.startswith(("'", "’")) or fold(owner) == "my"):
        if kin["x"]:
            return None if fold(kin["x"]) in user else kin["x"]
        whose = "the user" if mine else owner
        return f"{whose}'s {' '.join(kin['role'].lower().split())}"
    if mine:
        return None
    if _KIN_WORD.fullmatch(owner):  # "Mom lives in Porto": the user's mom
        return f"the user's {owner.lower()}"
    return owner if _someone(owner, item) else None


def _someone(name: str, item: ReplyItem) -> bool:
    """Whether `name`, opening the item's text, is a person's name: no word naming no one in
    particular ("The", "She"), no well-known place, not the slot's value ("Google employs
    Ana"), a name the text reads as one (`extract_entities`: not "Lives" of "Lives in
    Paris"), and one the model lists as a person if it lists it."""
    key = fold(name)
    if key in STOPWORDS or key in PRONOUNS or is_well_known_place(name):
        return False
    if item.value and key == fold(item.value):
        return False
    if key not in {fold(entity.name) for entity in extract_entities(item.text)}:
        return False
    kinds = {entity.kind for entity in item.entities if fold(entity.name) == key}
    return not kinds or "person" in kinds


def _candidate(
    item: ReplyItem, batch: Sequence[Message], user: frozenset[str], said: Sequence[Message]
) -> Candidate:
    """The candidate of a reply item of `batch`; `said`: the batch and the turns shown as its
    context, which may name a slot's value ("Did you move to Rome?" / "Yes, last month")."""
    # In message order, whatever the model's: the first is the anchor of its time and session.
    # (`_grounded`: every source is a message of the batch.)
    sources = [batch[i] for i in sorted(set(item.sources))] or list(batch)
    # A subject that is not the user (`_user_names`) is someone else: "Maria lives in Paris"
    # fills Maria's home city, never the user's, user name known or not. A model that leaves
    # the subject out, or calls it the user's, while the text names someone else ("Marta
    # lives in Madrid"), is read by the text (`_subject_in`).
    subject = item.subject if item.subject and fold(item.subject) not in user else None
    subject = subject or _subject_in(item, user)
    if subject and not item.subject and not user - _USER_WORDS and not _named_in(subject, said):
        # Not told the user's name, a model naming someone the conversation never names can
        # only mean the user ("Ana lives in Porto" for "I live in Porto").
        subject = None
    stated = _stated_when(item, sources[0].created_at)
    valid_from = _when(item, sources[0], stated)
    entities = tuple(EntityMention(e.name, e.kind) for e in item.entities)
    # A slot is filled by a value (without one, the profile would take the whole sentence),
    # one the model is confident enough of (`MIN_SLOT_CONFIDENCE`) and, for a place, an
    # organisation or a person, one the conversation names (`_named_in`).
    sure = item.confidence >= MIN_SLOT_CONFIDENCE
    named = item.value == NO_VALUE or _named_in(item.value or "", said)
    if item.attribute in SLOT_RELATIONS and not named:
        sure = False
    plan = _planned(stated, sources[0])
    attribute = item.attribute if item.value and sure and not plan else None
    relations: tuple[RelationMention, ...] = ()
    # Someone named by their tie alone ("the user's sister") is no entity: the fact only.
    unnamed = subject is not None and _KIN_WORD.fullmatch(subject) is not None
    if attribute in SLOT_RELATIONS and item.value and item.value != NO_VALUE and not unnamed:
        relation, kind = SLOT_RELATIONS[attribute]
        relations = (RelationMention(subject, relation, item.value, kind, valid_from),)
        # Both ends are entities, or the relation has nothing to join ("Maria lives in
        # Paris", the model naming no entity).
        entities = _mentioning(entities, item.value, kind)
        if subject:
            entities = _mentioning(entities, subject, "person")
    return Candidate(
        text=_absolute(item.text, sources[0].created_at),
        kind="fact" if plan and item.kind == "profile" else item.kind,
        attribute=attribute,
        value=item.value,
        importance=item.importance,
        source_ids=tuple(message.id for message in sources),
        entities=entities,
        relations=relations,
        valid_from=valid_from,
        confidence=item.confidence,
        subject=subject,
        metadata={**_metadata(sources), "plan": True} if plan else _metadata(sources),
    )


def _as_past_if_told_so(candidate: Candidate, candidates: Sequence[Candidate]) -> Candidate:
    """`candidate` as the rules read a slot's value told as the past ("Ana used to live in
    Paris", "Ana worked at Google": `says_past`), when no other candidate of the reply gives
    its slot a value: no value of the slot, but the end of it if it holds now (`negates`),
    so a past told later never takes the place of the current value. (Beside another value
    of its slot, "moved from Paris to Rome", revision files it as that one's past.)"""
    attribute, value = candidate.attribute, candidate.value
    if attribute is None or not value or value == NO_VALUE or not says_past(candidate.text, value):
        return candidate
    if any(other is not candidate and other.attribute == attribute for other in candidates):
        return candidate
    kind = "fact" if candidate.kind == "profile" else candidate.kind
    metadata = {**candidate.metadata, "negates": value}
    return replace(candidate, kind=kind, attribute=None, relations=(), metadata=metadata)


def _grounded(item: ReplyItem, batch: Sequence[Message]) -> bool:
    """Whether every message the item names as its source is one of the batch: one that
    names a message the model was never shown (`[7]` of a batch of one) made it up. An item
    naming none is the whole batch's."""
    return all(0 <= index < len(batch) for index in item.sources)


def _named_in(value: str, batch: Sequence[Message]) -> bool:
    """Whether a message of `batch` names `value`: one of its words of three letters or more
    (case and accents aside: "Google" for "Google LLC"). A city, employer, school or partner
    that nothing said names is made up ("Ana lives in Tokyo" from "What a lovely day")."""
    said = set(_WORD.findall(fold(" ".join(message.text for message in batch))))
    return any(len(word) >= 3 and word in said for word in _WORD.findall(fold(value)))


def _mentioning(
    entities: tuple[EntityMention, ...], name: str, kind: EntityKind
) -> tuple[EntityMention, ...]:
    """`entities`, with `name` as an entity of `kind` unless one of them is it already."""
    if fold(name) in {fold(entity.name) for entity in entities}:
        return entities
    return (*entities, EntityMention(name, kind))


def _metadata(sources: Sequence[Message]) -> dict[str, Any]:
    """As the rules record it: who extracted, when it was said, and in which session (the
    first source's, for the session boost of search)."""
    metadata: dict[str, Any] = {"extractor": "llm", "said_at": sources[-1].created_at.isoformat()}
    if sources[0].session_id:
        metadata[SESSION_KEY] = sources[0].session_id
    return metadata


def _retry_messages(
    request: LLMRequest, reply: str, error: ReplyError
) -> tuple[dict[str, Any], ...]:
    correction = (
        f"Your reply could not be used: {error}. Reply again with only the JSON object "
        '{"memories": [...]} as specified, nothing else.'
    )
    return (
        *map(dict, request.messages),
        {"role": "assistant", "content": without_reasoning(reply)[:2000]},
        {"role": "user", "content": correction},
    )


def _batch_flow(
    batch: Sequence[Message], budget: ExtractionBudget, told: _Told, reply_tokens: int
) -> LLMFlow[tuple[list[Candidate] | None, str]]:
    """Ask for one batch's memories (one retry); None and the reason when it falls back.

    A reply cut off by `max_tokens` keeps only its finished items (`parse_reply`). The turns
    shown as context are left out of a prompt the budget holds only without them.
    """
    messages: tuple[dict[str, Any], ...] = tuple(_prompt(batch, told))
    bare = tuple(_prompt(batch, told, context=False))
    if not budget.allows(prompt_tokens(messages) + min(reply_tokens, 256)):
        messages = bare
    reason = "no attempt"
    for attempt in range(2):
        prompt = prompt_tokens(messages)
        if not budget.allows(prompt + min(reply_tokens, 256)):
            # After an invalid reply, that reply is why the batch falls back, not the budget.
            spent = "LLM budget exhausted" if attempt == 0 else f"{reason}; no budget left to retry"
            return None, spent
        request = LLMRequest(messages, min(reply_tokens, budget.tokens_left - prompt), _FORMAT)
        completion = yield from ask(request, budget)
        if completion is None:
            return None, "LLM call failed"
        cut = completion.finish_reason == "length"
        try:
            items = parse_reply(completion.text, truncated=cut)
        except ReplyError as exc:
            reason = f"invalid reply: {exc}"
            messages = _retry_messages(request, completion.text, exc)
            if cut:  # a reasoning model may have thought its whole reply away: more room
                reply_tokens *= 2
            continue
        items = [item for item in items if _grounded(item, batch)]
        user = _user_names(items, batch, told.user_name, told.named)
        said = [*batch, *told.shown_before(batch)]
        candidates = [_candidate(item, batch, user, said) for item in items]
        return [_as_past_if_told_so(c, candidates) for c in candidates], ""
    return None, reason


def _unseen(
    batch: Sequence[Message],
    user_name: str | None,
    fact_roles: Collection[str],
    about_user: Collection[str],
) -> list[Candidate]:
    """The rules' facts of what the prompt cut off the long messages of `batch` (`_shown`):
    the model never saw it ("... By the way, I moved to Berlin.")."""
    tails = [replace(m, content=hidden) for m in batch if (hidden := _shown(m)[1])]
    if not tails:
        return []
    found = extract(tails, user_name=user_name, fact_roles=fact_roles, about_user=about_user)
    return [c for c in found if c.kind != "episode"]


def _with_rules_slots(
    found: Sequence[Candidate], rules: Sequence[Candidate], batch: Sequence[Message]
) -> list[Candidate]:
    """The model's facts `found`, with the rules' slot facts of `batch` whose slot (of the
    same person) none of them fills: a small model that leaves `attribute` out ("Ana moved
    to Berlin" as a plain fact) must not leave the stored home city current. A model's fact
    without a slot that names the rules' value takes their slot (one memory, not two);
    otherwise the rules' fact is added."""
    facts = list(found)
    filled = {(c.attribute, fold(c.subject or "")) for c in facts if c.attribute}
    ids = {message.id for message in batch}
    for rule in rules:
        person = fold(rule.subject or "")
        if not rule.attribute or rule.kind == "episode" or not ids & set(rule.source_ids):
            continue
        corrected = _corrected(facts, rule) if rule.metadata.get("corrects") else None
        if corrected is not None:
            facts[corrected] = _with_correction(facts[corrected], rule)
            continue
        if (rule.attribute, person) in filled:
            continue
        filled.add((rule.attribute, person))
        same = (
            i
            for i, c in enumerate(facts)
            if not c.attribute
            and not c.metadata.get("plan")
            and fold(c.subject or "") == person
            and _names(c.text, rule.value)
        )
        index = next(same, None)
        if index is None:
            facts.append(rule)
            continue
        fact = facts[index]
        entities = fact.entities
        for entity in rule.entities:
            entities = _mentioning(entities, entity.name, entity.kind)
        facts[index] = replace(
            fact,
            attribute=rule.attribute,
            value=rule.value,
            relations=(*fact.relations, *rule.relations),
            entities=entities,
        )
    return facts


_CORRECTION_MARKS = ("corrects", "negates", "guessed")
"""What the rules mark a correction with ("I meant Lisbon, not Porto"): revision reads it."""


def _corrected(facts: Sequence[Candidate], rule: Candidate) -> int | None:
    """The index of the model's slot fact of the same person giving the value the rules'
    correction `rule` gives ("Ana lives in Lisbon" for "Sorry, I meant Lisbon, not Porto")."""
    person = fold(rule.subject or "")
    return next(
        (
            index
            for index, fact in enumerate(facts)
            if fact.attribute
            and fold(fact.subject or "") == person
            and fold(fact.value or "") == fold(rule.value or "")
        ),
        None,
    )


def _with_correction(fact: Candidate, rule: Candidate) -> Candidate:
    """The model's slot `fact` marked as the correction `rule` is (`_CORRECTION_MARKS`): the
    value it corrects never held, as without a model. The rules' words for the other slots a
    guessed correction may be of (`restated`) go with it; its own slot keeps its text."""
    marks = {key: rule.metadata[key] for key in _CORRECTION_MARKS if key in rule.metadata}
    restated = rule.metadata.get("restated")
    restated = {**restated, str(fact.attribute): fact.text} if isinstance(restated, dict) else {}
    return replace(fact, metadata={**fact.metadata, **marks, "restated": restated})


def _names(text: str, value: str | None) -> bool:
    """Whether `text` names the slot value `value` (as words, in any case)."""
    if not value or value == NO_VALUE:
        return False
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


def _batches(messages: Sequence[Message], size: int, max_chars: int) -> Iterator[list[Message]]:
    batch: list[Message] = []
    chars = 0
    for message in messages:
        length = min(len(message.text), _MESSAGE_CHARS)
        if batch and (len(batch) >= size or chars + length > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(message)
        chars += length
    if batch:
        yield batch


def extraction_flow(
    messages: Sequence[Message],
    *,
    budget: ExtractionBudget,
    user_name: str | None = None,
    fact_roles: Collection[str] = ("user",),
    history: Sequence[Message] = (),
    about_user: Collection[str] = (),
    batch_size: int = 20,
    batch_chars: int = 12000,
    reply_tokens: int = 1024,
) -> LLMFlow[ExtractionResult]:
    """The extraction as a flow (see `engram.memory.llm_flow`); drive it sync or async.

    Args:
        messages: The new messages, oldest first.
        budget: The LLM calls and tokens it may spend (decremented).
        user_name: The user's name (facts about them get no `subject`).
        fact_roles: The roles whose turns are sent to the model for facts.
        history: Turns said before `messages` in their sessions, as context of the rules'
            episodes and facts (`extract`).
        about_user: The ids of the messages that are memories of the user rather than turns
            ("The user lives in Paris", `Memories.add(text)`): the rules read them as the
            user saying them (`extract`), in a batch that falls back to them too, and the
            prompt tells the model they state facts about the user (`_ABOUT_USER`).
        batch_size: At most this many messages per call.
        batch_chars: At most about this many characters of messages per call.
        reply_tokens: `max_tokens` of each call.

    Returns:
        The episodes of every turn, plus facts per batch from the model or from the rules.
    """
    rules = extract(
        messages,
        user_name=user_name,
        fact_roles=fact_roles,
        history=history,
        about_user=about_user,
    )
    candidates = [candidate for candidate in rules if candidate.kind == "episode"]
    eligible = [m for m in messages if m.role in fact_roles and m.text.strip()]
    told = _Told(
        user_name,
        frozenset(about_user),
        tuple(str(c.value) for c in rules if c.attribute == "name" and not c.subject and c.value),
        _context(messages, history, fact_roles),
    )
    fallbacks: list[str] = []
    llm_batches = 0
    for batch in _batches(eligible, batch_size, batch_chars):
        found, reason = yield from _batch_flow(batch, budget, told, reply_tokens)
        if found is None:
            ids = {message.id for message in batch}
            found = [c for c in rules if c.kind != "episode" and ids & set(c.source_ids)]
            fallbacks.append(reason)
            logger.warning(
                "LLM extraction fell back to the rules for %d messages: %s", len(batch), reason
            )
        else:
            llm_batches += 1
            found.extend(_unseen(batch, user_name, fact_roles, about_user))
            found = _with_rules_slots(found, rules, batch)
        candidates.extend(found)
    position = {message.id: index for index, message in enumerate(messages)}
    candidates.sort(key=lambda c: (position.get(c.source_ids[0], 0), c.kind != "episode"))
    return ExtractionResult(tuple(candidates), llm_batches, tuple(fallbacks))


class LLMExtractor:
    """Extraction by a chat model, within a per-call budget, with the rules as a safety net.

    Args:
        model: The chat model (any `ChatModelProtocol`, e.g. `OpenAIChatModel`).
        max_calls: Default budget: LLM calls per `extract` call.
        max_tokens: Default budget: tokens per `extract` call (prompts and replies).
        batch_size: Messages per LLM call.
        reply_tokens: `max_tokens` of each call.
    """

    def __init__(
        self,
        model: ChatModelProtocol,
        *,
        max_calls: int = 4,
        max_tokens: int = 16000,
        batch_size: int = 20,
        reply_tokens: int = 1024,
    ) -> None:
        self.model = model
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.reply_tokens = reply_tokens

    def flow(
        self,
        messages: Sequence[Message],
        *,
        user_name: str | None = None,
        fact_roles: Collection[str] = ("user",),
        budget: ExtractionBudget | None = None,
    ) -> LLMFlow[ExtractionResult]:
        """The extraction flow with this extractor's settings (a new budget unless given)."""
        return extraction_flow(
            messages,
            budget=budget or ExtractionBudget(self.max_calls, self.max_tokens),
            user_name=user_name,
            fact_roles=fact_roles,
            batch_size=self.batch_size,
            reply_tokens=self.reply_tokens,
        )

    def extract(
        self,
        messages: Sequence[Message],
        *,
        user_name: str | None = None,
        fact_roles: Collection[str] = ("user",),
        budget: ExtractionBudget | None = None,
    ) -> ExtractionResult:
        """Extract candidates from `messages`; never raises on a bad reply or an outage.

        Args:
            messages: The new messages, oldest first.
            user_name: The user's name.
            fact_roles: The roles whose turns yield facts.
            budget: A budget to spend from (shared with revision); default: a new one of
                `max_calls`/`max_tokens`.

        Returns:
            The candidates and how each batch was handled.

        Raises:
            ProviderConfigError: The endpoint refused the key, the model or the base_url.
        """
        flow = self.flow(messages, user_name=user_name, fact_roles=fact_roles, budget=budget)
        return drive(flow, self.model)

    async def aextract(
        self,
        messages: Sequence[Message],
        *,
        user_name: str | None = None,
        fact_roles: Collection[str] = ("user",),
        budget: ExtractionBudget | None = None,
    ) -> ExtractionResult:
        """Async twin of `extract`."""
        flow = self.flow(messages, user_name=user_name, fact_roles=fact_roles, budget=budget)
        return await adrive(flow, self.model)
