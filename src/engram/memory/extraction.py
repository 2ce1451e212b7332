"""The deterministic extractor: candidate memories from messages, without an LLM.

`extract(messages)` returns, for every user and assistant turn, an `episode` candidate (the
turn itself, with its timestamp and grounded event date: retrieval over episodes is what
recalls the details nobody thought to turn into a fact), plus the facts that first-person
rules find in the user's turns: profile slots ("I live in Lisbon" -> `home_city`), preferences,
relations ("my partner Tomás"), negations ("I'm no longer vegetarian"), quantities and events
("I bought a bike yesterday" -> `event`, dated). A slot value that ended ("I don't live in
Paris anymore", "I left Google") becomes an *ending* (value `none`, naming the value it ends),
and one replaced ("I left Google and joined Meta") the new value naming the old one: revision
then retires the old value (see `_change_rules`). A slot value said in a clause that negates
it ("I don't think I live in Paris") is never taken for the user's. A correction naming only
the new value ("Oops, I meant Braga") corrects the value the speaker's previous turn of the
session stated (in the batch, or in `history`); one naming a value that turn said in no
slot ("top choice is the Salk Institute", then "Sorry, I meant Scripps, not Salk") corrects
words, not a memory, and gives no fact (the episodes keep both). A rule may read the whole
turn around its sentence, and the slots the speaker gave a value earlier in the session ("I
work at Meta.", then "I switched to Google": a new job, where alone it may be a search
engine), and whom the speaker named in the session with no role ("ok so I met someone. his
name is Jonas", then "he's my boyfriend now": `_partner_rules.names_given`).

Each episode also records the lines of the (up to `texts.LEXICAL_CONTEXT`) turns of its
session just before it, in the batch or in `history` (`metadata["context"]`: a reply such
as "Yes, twice!" is found by the question it answers), and every candidate the session of
its message (`metadata["source_session"]`, when the message has a `session_id`): see
`texts.index_text`.
A fact carries the entities of its turn that its text names (the event "Ana visited Paris in
March 2023" links Paris, as the turn's episode does), besides those its rule states.

It is fast (regular expressions behind cheap filters: ~6,000 LoCoMo turns in well under a
second) and never raises on any text.

Example:
    ```python
    msgs = [Message(role="user", content="I moved to Lisbon last month", name="Ana")]
    [c.text for c in extract(msgs)]
    # ["I moved to Lisbon last month", "Ana moved to Lisbon"]
    ```
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any

from engram.memory._fact_rules import apply_rules
from engram.memory._first_person import first_person
from engram.memory._others_rules import SAID_OF_OTHERS
from engram.memory._partner_rules import names_given
from engram.memory._phrases import USER_LABEL, Sentence, with_subject
from engram.memory._sentences import USER_LABELS
from engram.memory.candidates import NO_VALUE, Candidate, EntityMention
from engram.memory.entities import extract_entities, fold
from engram.memory.temporal import TimeMention, ground
from engram.memory.texts import CONTEXT_KEY, LEXICAL_CONTEXT, SESSION_KEY, speaker_line
from engram.providers._text import ends_with_abbreviation
from engram.types._conversation import Message

__all__ = ["episode_metadata", "extract"]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_RULE_CUE = re.compile(
    r"\b(?:i|i'm|im|i've|ive|i'd|my|me|we|we're|we've|weve|our|passed\s+away|died|wait|oops|sorry|"
    r"mistake|correction|actually|no|(?:her|his|their)\s+name|from\s+now\s+on|going\s+forward|"
    r"(?:she|he)(?:'s|\s+is)\s+(?:called|named))\b|^an?\s+\w+(?:\s+\w+)?\s+(?:named|called)\b|"
    r"\bhome\s+(?:base\s+)?(?:for\s+me\s+)?is\b|\bis\s+(?:now\s+)?home\b|"
    r"\bnew\s+job\s*(?:[:–—-]|\s(?:at|with)\b)|^favou?rite\s",
    re.IGNORECASE,
)
"""What a sentence the fact rules may read holds: the speaker in the first person ("we" too:
"We moved to Berlin", "Our cat is named Luna"), or the cue of a rule that needs none ("Rex
passed away", "No wait, it's Braga, not Porto", "Actually it's Lisbon, not Porto", "No,
Lisbon, not Porto"), a name given to whom the speaker just introduced ("Her name is Mia"),
what is to hold from now on ("Please use bob@new.com from now on", "Ship to 5 Main St
from now on"), a reply naming what the speaker has ("A beagle named Max"), or where home is
("Home is Oslo these days", "Oslo is home now"), a new job said with no verb ("New job at
Netflix!") and a favourite with no "my" ("Favourite movies are Alien and Heat")."""
_QUANTITY = re.compile(
    r"(?:[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?[kKmM]\b)?|\b\d[\d,]*(?:\.\d+)?\s*"
    r"(?:%|percent|km|kilometers|miles?|kg|kilos?|lbs?|pounds|dollars|euros|hours?|minutes?|"
    r"years?|months?|weeks?|days?|kids|children|people|times|books|dogs|cats|pages|songs)\b)",
    re.IGNORECASE,
)
_EPISODE_ROLES = ("user", "assistant")
_CONTEXT_CHARS = 200
"""A context line longer than this is cut (at a word): it qualifies the turn, no more (cut at
500 characters, LongMemEval_S session recall_all@5 was 0.888; at 200, 0.894; LoCoMo's short
turns are unaffected)."""


_NAMED_KEPT = 3
"""How many of whom a speaker named with no role ("his name is Jonas") the later turns of
the session read ("he's my boyfriend now" names the last that fits)."""


def _normalise(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("‘", "'").split())


_UNREAD = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff®™℠"))
"""Characters the rules read past: zero-width ones ("Ber\u200blin" is Berlin) and the marks
of a brand ("ACME® Corp" is ACME Corp)."""
_HIDDEN_ELEMENT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_INLINE_TAG = re.compile(
    r"</?(?:a|abbr|b|big|cite|code|em|font|i|mark|q|s|small|span|strong|sub|sup|u)\b[^<>]*>",
    re.IGNORECASE,
)
_BLOCK_TAG = re.compile(
    r"</?(?:address|article|aside|blockquote|body|br|button|dd|div|dl|dt|footer|form|h[1-6]|"
    r"head|header|hr|html|iframe|img|input|label|li|link|main|meta|nav|ol|p|pre|script|"
    r"section|style|table|tbody|td|th|thead|title|tr|ul)\b[^<>]*>",
    re.IGNORECASE,
)


def _readable(text: str) -> str:
    """`text` as the fact rules read it: without zero-width characters and brand marks
    (`_UNREAD`), and, holding HTML, its words alone: no tags, no script or style ("I work at
    <b>Netflix</b></div><script>alert(1)</script>" reads "I work at Netflix"), entities
    decoded. The turn's episode keeps the text as said."""
    read = text.translate(_UNREAD)
    if _INLINE_TAG.search(read) or _BLOCK_TAG.search(read):
        read = _HIDDEN_ELEMENT.sub(" ", read)
        read = html.unescape(_BLOCK_TAG.sub(" ", _INLINE_TAG.sub("", read)))
    return read if read == text else _normalise(read)


def _episode_importance(message: Message, text: str, facts: int) -> float:
    words = len(text.split())
    base = 0.5 if message.role == "user" else 0.3
    if words < 4:
        base -= 0.2
    return round(min(1.0, base + 0.1 * min(facts, 2)), 2)


def episode_metadata(message: Message, times: Sequence[TimeMention], text: str) -> dict[str, Any]:
    """The metadata of an episode: role, speaker, when it was said, its event date, quantities."""
    data: dict[str, Any] = {
        "role": message.role,
        "said_at": message.created_at.isoformat(),
        "extractor": "rules",
    }
    if message.name:
        data["speaker"] = message.name
    if times:
        data["event_date"] = times[0].start.date().isoformat()
        data["event_end"] = times[0].end.date().isoformat()
        data["event_granularity"] = times[0].granularity
    quantities = [match[0] for match in _QUANTITY.finditer(text)]
    if quantities:
        data["quantities"] = quantities
    return data


def _speaker(message: Message, user_name: str | None) -> tuple[str, str | None]:
    """How facts name the author of `message`, and its subject key (None: the user).

    Without a `user_name`, every speaker of a fact role is the user; with one, a message
    signed with another name is about that other person.
    """
    if message.name and user_name and fold(message.name) != fold(user_name):
        return message.name, message.name
    return (user_name or message.name or USER_LABEL), None


def _sentence_spans(text: str) -> Iterable[tuple[int, int]]:
    """The (start, end) offsets of the sentences of `text` (cut on `.`, `!`, `?` followed by
    space, and on newlines; not after a title or initial: "a nurse at St. Mary's")."""
    start = 0
    for boundary in _SENTENCE_END.finditer(text):
        if "\n" not in boundary[0] and ends_with_abbreviation(text[start : boundary.start()]):
            continue
        yield start, boundary.start()
        start = boundary.end()
    yield start, len(text)


def _facts(
    message: Message,
    text: str,
    times: Sequence[TimeMention],
    user_name: str | None,
    before: tuple[Candidate, ...] | None = None,
    known: frozenset[str] = frozenset(),
    about_user: bool = False,
) -> list[Candidate]:
    label, subject = _speaker(message, user_name)
    labels = (*USER_LABELS, *((user_name,) if user_name else ())) if about_user else ()
    found: list[Candidate] = []
    for start, end in _sentence_spans(text):
        part = text[start:end]
        if about_user:  # a memory's text, the user's words in the third person
            part = first_person(part, labels, unnamed=True)
        part = with_subject(part)
        if not _RULE_CUE.search(part) and not SAID_OF_OTHERS.match(part):
            continue
        inside = tuple(time for time in times if start <= time.position < end)
        sentence = Sentence(
            text=part,
            label=label,
            subject=subject,
            said_at=message.created_at,
            source_id=message.id,
            times=inside,
            before=before,
            turn=text,
            known=known | _slots(found),
        )
        said = apply_rules(sentence)
        found.extend(said)
        introduced = tuple(c for c in said if "introduces" in c.metadata)
        if introduced:  # "I have a girlfriend now. Her name is Mia."
            before = (*(before or ()), *introduced)
    if label == USER_LABEL:
        return found
    # Who said it, as episodes record it: a question naming the speaker ("What did Caroline
    # research?") then matches the facts they stated about themselves, not only their turns
    # (the entity boost; LoCoMo turn recall@10 0.775 -> 0.778, in_context@2k 0.907 -> 0.915).
    return [
        fact
        if "speaker" in fact.metadata
        else replace(fact, metadata={**fact.metadata, "speaker": label})
        for fact in found
    ]


def _with_entities(fact: Candidate, mentions: Sequence[EntityMention]) -> Candidate:
    """`fact` with the entities of its turn that its text names, after those its rule gave
    it ("Ana visited Paris in March 2026": Paris): a query naming Paris then finds the event,
    as it finds the turn's episode."""
    text = fold(fact.text)
    have = {fold(entity.name) for entity in fact.entities}
    named = [
        mention
        for mention in mentions
        if (key := fold(mention.name)) not in have
        and re.search(rf"(?<!\w){re.escape(key)}(?!\w)", text)
    ]
    return replace(fact, entities=(*fact.entities, *named)) if named else fact


def _episode(
    message: Message,
    text: str,
    times: Sequence[TimeMention],
    mentions: Sequence[EntityMention],
    facts: int,
    context: Sequence[str],
) -> Candidate:
    entities = list(mentions)
    if message.name and fold(message.name) not in {fold(entity.name) for entity in entities}:
        entities.insert(0, EntityMention(message.name, "person"))
    metadata = episode_metadata(message, times, text)
    if context:
        metadata[CONTEXT_KEY] = list(context)
    if message.session_id:
        metadata[SESSION_KEY] = message.session_id
    return Candidate(
        text=text,
        kind="episode",
        importance=_episode_importance(message, text, facts),
        source_ids=(message.id,),
        entities=tuple(entities),
        valid_from=message.created_at,
        confidence=1.0,
        metadata=metadata,
    )


def _in_session(candidate: Candidate, session_id: str | None) -> Candidate:
    if not session_id:
        return candidate
    return replace(candidate, metadata={**candidate.metadata, SESSION_KEY: session_id})


def _context_line(message: Message, text: str) -> str:
    """How a turn reads as context of the next ones: `Speaker: text`, cut if long."""
    if len(text) > _CONTEXT_CHARS:
        text = text[:_CONTEXT_CHARS].rsplit(" ", 1)[0] + " ..."
    return speaker_line(message.name, text)


def _merge_duplicates(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per (kind, normalised text) of a batch, with the provenance united."""
    merged: dict[tuple[str, str, str | None], Candidate] = {}
    for candidate in candidates:
        key: tuple[str, str, str | None]
        if candidate.kind == "episode":
            key = ("episode", candidate.text, candidate.source_ids[0])
        else:
            key = (candidate.kind, candidate.text.casefold(), candidate.subject)
        previous = merged.get(key)
        if previous is None:
            merged[key] = candidate
        else:
            ids = tuple(dict.fromkeys(previous.source_ids + candidate.source_ids))
            merged[key] = replace(previous, source_ids=ids)
    return list(merged.values())


def _gives_value(fact: Candidate) -> bool:
    """Whether `fact` gives a slot a value (not an ending)."""
    return fact.attribute is not None and fact.value is not None and fact.value != NO_VALUE


def _slots(facts: Iterable[Candidate]) -> frozenset[str]:
    """The slots `facts` give a value (not an ending)."""
    return frozenset(str(fact.attribute) for fact in facts if _gives_value(fact))


def _values(facts: Iterable[Candidate]) -> frozenset[str]:
    """The slot values `facts` state, folded (not an ending)."""
    return frozenset(fold(str(fact.value)) for fact in facts if _gives_value(fact))


def _without_stray_corrections(
    facts: list[Candidate], previous: str, values: frozenset[str]
) -> list[Candidate]:
    """`facts` without a correction of words rather than of a value: one naming the value it
    corrects ("Sorry, I meant Scripps, not Salk") that the speaker's previous turn of the
    session named ("top choice is the Salk Institute") but that no turn of theirs in the
    session stated in a slot. Revision would keep it, finding no slot to correct, as a fact
    in its words ("The user meant Scripps, not Salk"); the turns' episodes keep what was
    said."""
    return [
        fact
        for fact in facts
        if not (
            fact.metadata.get("corrects")
            and isinstance(old := fact.metadata.get("negates"), str)
            and fold(old) not in values
            and re.search(rf"(?<!\w){re.escape(old)}(?!\w)", previous, re.IGNORECASE)
        )
    ]


def _stated_values(facts: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """The slot values a turn stated (what a correction in the next turn may be about), and
    whom it introduced unnamed (whom "Her name is Mia" names)."""
    return tuple(fact for fact in facts if "introduces" in fact.metadata or _gives_value(fact))


def extract(
    messages: Sequence[Message],
    *,
    user_name: str | None = None,
    fact_roles: Collection[str] = ("user",),
    history: Sequence[Message] = (),
    about_user: Collection[str] = (),
) -> list[Candidate]:
    """Deterministic candidates from `messages`: one episode per turn, plus rule-based facts.

    Args:
        messages: The messages, oldest first. Only `user` and `assistant` turns with text are
            used; system and tool messages are skipped.
        user_name: The user's name, used to write facts as "Ana lives in Lisbon" (otherwise
            the message's `name`, else "The user lives in ..."). When given, a message whose
            `name` differs is another speaker's: its facts get `subject=name`, so they never
            fill the user's slots (pass it for multi-party dialogues).
        fact_roles: The roles whose first-person statements become facts (the assistant's
            "I" is not the user; pass `("user", "assistant")` for two-human dialogues).
        history: Turns said before `messages` in their sessions (already added), oldest
            first: read as context only, they give no candidate. A turn's context is the
            turns before it in its session, whether in `messages` or here: the lines of an
            episode, and the previous turn of the same speaker a bare correction ("Oops, I
            meant Braga") corrects. Without it, such a correction in the first turn of its
            session in `messages` names no old value, and revision settles it (see
            `revision.decide`).
        about_user: The ids of the messages that are memories of the user rather than turns
            of a chat (the text given to `Memories.add`, as mem0 stores "The user lives in
            Paris"): each of their sentences is read as the user saying it
            (`_first_person.first_person`): one opening on the user ("The user lives in
            Paris", "User is vegetarian", "Ana lives in Paris" with `user_name` "Ana") or on
            no subject, as mem0 writes them ("Lives in Paris", "Name is Ana", "Allergic to
            nuts"), as "I live in Paris", "My name is Ana". One naming someone else ("Marta
            lives in Madrid") stays hers, and one naming the user further on is read as it
            is. Their episodes keep the text as given.

    Returns:
        Episodes and facts in message order, each turn's episode first; duplicates within the
        batch are merged (provenance united). An episode's context is the turns before it in
        `messages` with the same `session_id`.
    """
    people = {name for name in (user_name, *(m.name for m in messages)) if name}
    found: list[Candidate] = []
    before: dict[str | None, list[str]] = {}
    turns: dict[tuple[str | None, str, str | None], tuple[Candidate, ...]] = {}
    """The slot values of each speaker's last turn, by session."""
    known: dict[tuple[str | None, str, str | None], frozenset[str]] = {}
    """The slots each speaker gave a value in the session so far."""
    said: dict[tuple[str | None, str, str | None], tuple[str, frozenset[str]]] = {}
    """Each speaker's last turn in the session, and the slot values they stated in it so far."""
    named: dict[tuple[str | None, str, str | None], tuple[Candidate, ...]] = {}
    """Whom each speaker named with no role in the session so far (`names_given`)."""
    told = len(history)
    for index, message in enumerate((*history, *messages)):
        if message.role not in _EPISODE_ROLES:
            continue
        text = _normalise(message.text)
        if not text:
            continue
        times = ground(text, message.created_at)
        speaker = (message.session_id, message.role, _speaker(message, user_name)[1])
        read = _readable(text)
        read_times = times if read == text else ground(read, message.created_at)
        facts: list[Candidate] = []
        if message.role in fact_roles:
            stated = known.get(speaker, frozenset())
            last = turns.get(speaker)
            facts = _facts(
                message,
                read,
                read_times,
                user_name,
                None if last is None else (*named.get(speaker, ()), *last),
                stated,
                about_user=message.id in about_user,
            )
            previous, values = said.get(speaker, ("", frozenset()))
            facts = _without_stray_corrections(facts, previous, values)
            turns[speaker] = _stated_values(facts)
            known[speaker] = stated | _slots(facts)
            said[speaker] = (read, values | _values(facts))
            named[speaker] = (*named.get(speaker, ()), *names_given(read))[-_NAMED_KEPT:]
        lines = before.setdefault(message.session_id, [])
        context = lines[-LEXICAL_CONTEXT:]
        lines.append(_context_line(message, text))
        if index < told:
            continue
        mentions = extract_entities(read, people=people)
        facts = [_with_entities(fact, mentions) for fact in facts]
        found.append(_episode(message, text, times, mentions, len(facts), context))
        found.extend(_in_session(fact, message.session_id) for fact in facts)
    return _merge_duplicates(found)
