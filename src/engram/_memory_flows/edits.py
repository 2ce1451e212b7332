"""A user's edits: of a memory (`edited`, and the correction it makes, `correction_flow`)
and of profile fields by hand (`profile_edit_flow`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from engram._exceptions import InvalidInputError
from engram._flows import Flow, embed
from engram._memory_flows.graph import Graph, is_named, new_user_entity, read_user, while_true
from engram._memory_flows.scope import Scope, every_memory
from engram._validation import is_blank
from engram.memory import EntityMention, close_relations, extract, fold, resolve_entities
from engram.memory._assertion import negated_in
from engram.memory._first_person import first_person
from engram.memory._kin_rules import KIN
from engram.memory._partners import PARTNERS
from engram.memory._revision_decision import retired
from engram.memory._revision_slots import slot_key
from engram.memory._revision_tastes import ended_taste
from engram.memory._revision_time import ended_by_edit
from engram.memory._sentences import USER_LABELS
from engram.memory.candidates import (
    ENGRAM_METADATA_KEYS,
    NO_VALUE,
    SLOT_RELATIONS,
    Candidate,
)
from engram.memory.profile import profile_value, reflect_edit
from engram.memory.texts import dense_text
from engram.memory.timeline import EDITED_AT, edited_at
from engram.stores.memories import (
    MemoryFilter,
    PutEntities,
    PutMemories,
    PutProfile,
    PutRelations,
    VectorRecord,
)
from engram.types._conversation import Message
from engram.types._memory import Entity, Memory, MemoryChange, Relation


def edited(memory: Memory, *, text: str | None, now: datetime, **fields: Any) -> Memory:
    """A memory after a user edit (text and/or importance, metadata, pinned). `metadata` is
    merged into the memory's: a key given None is removed, the keys not given are kept.

    A slot fact's text and value tell one story. A new text gives the slot the value it
    states (`_read_slot`): as the deterministic extractor reads the slot in it ("The user
    moved to Porto" -> "The user is based in Braga"), else where the old text stated it
    ("The user lives in Porto" -> "... in Madrid"); a keyed slot's key follows its topic
    ("The user enjoys jazz" -> "... classical music": `preference:jazz` ->
    `preference:classical_music`). A text that ends the slot is its end, as a message saying
    so is read ("The user no longer lives in Porto", "The user no longer enjoys jazz":
    value `none`, the profile field goes). A text stating another value than `metadata`'s,
    ending another value than the fact's ("The user left Coimbra" for a home in Lisboa),
    another slot, the slot of someone else ("My sister lives in Rome" for the user's home),
    or no value of the slot, is refused (`InvalidInputError`). A value given alone is stated
    in the fact's words, as a profile edit states it (`_in_words`: "The user lives in
    Faro"); refused if they name none. The fact's own text changes nothing. An edit of the
    value records when it was made (`timeline.EDITED_AT`).

    A value cleared alone (`none`, or None or "" for any slot) is refused (`_check_value`):
    the text would go on stating the old value while the profile forgets it, and there are
    no words that end any slot. As in mem0 and Zep, an edit rewrites what a memory says and
    a deletion forgets it: a user who wants the home city gone deletes the memory; one who
    moved out gives the words that say so, which end the slot."""
    changes = {k: v for k, v in fields.items() if v is not None}
    given = fields.get("metadata") or {}
    value = given.get("value")
    if memory.attribute and "value" in given:
        _check_value(memory, text, value)
    if text is not None and is_blank(text):
        raise InvalidInputError("a memory's text cannot be empty")
    if "metadata" in changes:
        merged = {**memory.metadata, **given}
        # Only a key given None goes: a stored None the edit does not name stays.
        changes["metadata"] = {
            key: value for key, value in merged.items() if key not in given or value is not None
        }
    if text is not None and text != memory.text:
        changes["text"] = text
    if memory.attribute and text is not None and ("text" in changes or "value" in given):
        attribute, read, negates = _read_slot(memory, text, value)
        changes["attribute"] = attribute
        if read is not None:
            metadata = changes.get("metadata", memory.metadata)
            changes["metadata"] = _with_value(memory, metadata, read, negates)
    elif memory.attribute and isinstance(value, str) and value != memory.metadata.get("value"):
        changes["text"] = _value_in_words(memory, value)
    new = replace(memory, updated_at=now, **changes)
    if memory.attribute and (new.attribute, profile_value(new)) != (
        memory.attribute,
        profile_value(memory),
    ):
        # The user's latest word on the slot: said now (`timeline.said`), not when first said.
        new = replace(new, metadata={**new.metadata, EDITED_AT: now.isoformat()})
    return new


def _check_value(memory: Memory, text: str | None, value: Any) -> None:
    """Refuse the `value` an edit gives slot fact `memory` that its text cannot tell: not
    text (what the profile field and the slot's relation take, as `update_profile`'s: a
    slot fact without one would give the profile field its whole sentence), or `none`
    given alone to a fact stating a value (see `edited`)."""
    ending = fold(str(memory.metadata.get("value", ""))) == NO_VALUE
    if isinstance(value, str) and value.strip():
        if fold(value) != NO_VALUE or text is not None or ending:
            return
        problem = f"a value {value!r} alone leaves {memory.text!r} stating the old one"
    else:
        problem = f"the value of a {memory.attribute} fact must be text, got {value!r}"
    raise InvalidInputError(
        f"{problem}: to forget the {memory.attribute}, delete the memory "
        "(memories.delete(memory_id)); to record that it ended, give the words that end it, "
        'as update(memory_id, text) ("The user no longer ...")'
    )


def _with_value(
    memory: Memory, metadata: Mapping[str, Any], value: str, negates: str | None
) -> dict[str, Any]:
    """`metadata` of slot fact `memory` given the `value` its new text states, and what an
    ending there ends (`negates`: "Paris", `likes`): an ending names what it ends, and a
    value said since an ending ends nothing."""
    new = {**metadata, "value": value}
    if fold(value) == NO_VALUE or fold(str(memory.metadata.get("value", ""))) == NO_VALUE:
        new.pop("negates", None)
        if negates and fold(value) == NO_VALUE:
            new["negates"] = negates
    return new


def _value_in_words(memory: Memory, value: str) -> str:
    """The text of slot fact `memory` given `value` alone: in its words (`_in_words`), as
    a profile edit states it; unchanged for `none` (an ending of the slot has no words).
    Refused for words that name no value ("The user quit their job"): no words of the
    slot's own are made up for it, as a profile edit restates no such fact."""
    if fold(value) == NO_VALUE:
        return memory.text
    restated = _in_words(memory, value)
    if restated is None:
        ended = fold(str(memory.metadata.get("value", ""))) == NO_VALUE
        why = f"end the {memory.attribute}, naming no value" if ended else "do not name its value"
        raise InvalidInputError(
            f"cannot state {memory.attribute} {value!r} in the words of {memory.text!r}, which "
            f"{why}: give the text that states it, as "
            f"update(memory_id, text) or update(memory_id, text, metadata={{'value': {value!r}}})"
        )
    return restated


def _in_words(memory: Memory, value: str) -> str | None:
    """`value` stated in the words of slot fact `memory`: its text with the value it states
    swapped for `value` ("The user lives in Porto" -> "The user lives in Braga"); None if
    it states none (an ending; words that do not name its value)."""
    before = memory.metadata.get("value")
    if not isinstance(before, str) or fold(before) == NO_VALUE:
        return None
    around = _around(memory.text, before)
    return None if around is None else around[0] + value.strip() + around[1]


def _read_slot(memory: Memory, text: str, given: Any) -> tuple[str, str | None, str | None]:
    """The attribute and the value of slot fact `memory` that its new `text` states (value
    None: the one it has), and what the text ends if it ends the slot (`negates`), `given`
    the value its edit names (None if it names none).

    Read as the deterministic extractor reads `text` said by whom the fact is about
    (`_said`): one value of the slot, or of another key of a keyed slot ("The user enjoys
    classical music": `preference:classical_music`, likes), or its end ("The user no
    longer works at Google": `none`). A given value must be the one read, else named in
    `text` (`none`: nothing of the slot read); with none given, the value is read where
    the old text stated it, all else alike (`_value_in`), or kept if `text` still names it
    (or `memory` is an ending, which names none). Refused: a text that states another
    value than the given one, one of another slot only ("The user works at Porto Labs" for
    a home in Porto), of someone else only (`_check_whose`), the end of another value
    (`_check_ends_own`), or no value of the slot."""
    attribute = memory.attribute or ""
    said = _said(memory, text)
    mine = _slot_value(memory, said)
    if mine is None:
        _check_whose(memory, text, said)
    others = sorted(
        {c.attribute or "" for c in said if c.attribute and not _same_slot(memory, c, anyones=True)}
    )
    negates = _negated(mine)
    _check_ends_own(memory, text, mine, negates)
    if isinstance(given, str):
        if mine is not None and fold(mine.value or "") != fold(given):
            raise InvalidInputError(
                f"{text!r} states {mine.attribute} {mine.value!r}, not {given!r}: give the "
                "value it states, or a text that states the value"
            )
        named = fold(given) == NO_VALUE or _names(text, given)
        if mine is None and (others or not named):
            raise InvalidInputError(_unread(memory, text, others))
        return (mine.attribute or attribute if mine else attribute), given, negates
    value = memory.metadata.get("value")
    if not isinstance(value, str):
        return attribute, None, None
    if mine is not None:
        stated = mine.value or ""
        return mine.attribute or attribute, None if fold(stated) == fold(value) else stated, negates
    read = _value_in(text, memory.text, value)
    if fold(value) == NO_VALUE or read is not None or (_names(text, value) and not others):
        return attribute, read, None
    raise InvalidInputError(_unread(memory, text, others))


def _check_ends_own(memory: Memory, text: str, mine: Candidate | None, negates: str | None) -> None:
    """Refuse a new `text` of slot fact `memory` that ends another value of its slot than
    the one it states ("The user left Coimbra" for "The user lives in Lisboa"): the user
    still holds the fact's value, which the edit would end. A keyed slot's ending names
    its key's value (`likes`), not a place or a name, and an ending's own value is none."""
    value = memory.metadata.get("value")
    if (
        mine is None
        or negates is None
        or mine.attribute != memory.attribute
        or ":" in (memory.attribute or "")
        or not isinstance(value, str)
        or fold(value) in ("", NO_VALUE)
        or fold(negates) == fold(value)
    ):
        return
    raise InvalidInputError(
        f"{text!r} ends {memory.attribute} {negates!r}, not {value!r} that {memory.text!r} "
        f'states: to record that {value!r} ended, give words that end it ("The user no '
        f'longer ... {value}"); to record another value, add a memory'
    )


def _names(text: str, value: str) -> bool:
    """Whether `text` names `value` (folded), and not in a clause that negates it ("The user
    doesn't live in Porto", "The user is no longer called Ana": `negated_in`)."""
    if fold(value) not in fold(text):
        return False
    at = re.search(re.escape(value.strip()), text, re.IGNORECASE)
    return at is None or not negated_in(text, at.start())


def _negated(candidate: Candidate | None) -> str | None:
    """What `candidate`, an ending of a slot, ends ("Paris", `likes`); None if it names
    nothing or is no ending."""
    if candidate is None or fold(candidate.value or "") != NO_VALUE:
        return None
    negates = candidate.metadata.get("negates")
    return negates if isinstance(negates, str) and negates.strip() else None


def _unread(memory: Memory, text: str, others: Sequence[str]) -> str:
    """Why a new text of slot fact `memory` is refused: it states other slots, or none."""
    states = f"states {', '.join(others)}, not" if others else "states no"
    return (
        f"{text!r} {states} {memory.attribute}: state the {memory.attribute} as a message "
        f'would ({memory.text!r}), or pass metadata={{"value": ...}} with a text naming it'
    )


_SOMEONE_ELSES = re.compile(
    rf"\s*(?:my|his|her|their|our|your)\s+(?:[\w-]+\s+)?(?P<who>{KIN}|{PARTNERS}|kids?|"
    r"child|children|parents?|family)\b",
    re.IGNORECASE,
)
"""A text in the user's words that opens on someone else ("My sister lives in Rome", "My
sister's name is Marta", "My older brother works at Meta"), which the extractor may not
read as theirs, having no name to file it under."""


def _check_whose(memory: Memory, text: str, said: Sequence[Candidate]) -> None:
    """Refuse a new `text` of slot fact `memory` that states the slot of someone else and
    not of whom the fact is about: the extractor reads it as another person's ("Marta lives
    in Rome" for the user's home; "The user lives in Faro" for Marta's), or, for a fact
    about the user, it opens on another person ("My sister lives in Paris"). The fact would
    file their home as the user's, whatever the value."""
    subject = memory.metadata.get("subject")
    # The user's id as a name ("Ana lives in Berlin" of user "ana") may be the user's.
    theirs = sorted(
        {
            c.subject or "the user"
            for c in said
            if c.subject != subject
            and _same_slot(memory, c, anyones=True)
            and not (subject is None and fold(c.subject or "") == fold(memory.user_id or ""))
        }
    )
    opening = _SOMEONE_ELSES.match(first_person(text, _labels(memory), unnamed=True))
    if subject is None and opening is not None and not theirs:
        theirs = [f"the user's {opening['who'].lower()}"]
    if theirs:
        whose = "the user" if subject is None else subject
        raise InvalidInputError(
            f"{text!r} states the {memory.attribute} of {', '.join(theirs)}, not of {whose}, "
            f"whom {memory.text!r} is about: add a memory about them instead of editing this one"
        )


def _said(memory: Memory, text: str) -> list[Candidate]:
    """The slot candidates the deterministic extractor reads in `text`, said in the first
    person where it opens on the user ("The user lives in Braga": "I live in Braga", "The
    user's sister Marta ...": "My sister Marta ...") or names no subject, as a memory added
    as text may ("Lives in Braga"): about anyone. A negation of a taste, which the
    extractor files under no slot ("I no longer enjoy jazz"), is the end of the taste's
    `preference:` slot (`ended_taste`), as "I used to love jazz" is. A change whose slot
    is a guess, naming the fact's value, is of the fact's slot (`_filed`: "The user left
    Lisboa" ends a home in Lisboa, not a job there)."""
    said = first_person(text, _labels(memory), unnamed=True)
    read = extract([Message(role="user", content=said)])
    slots = (_filed(memory, _as_slot(c)) for c in read)
    return [c for c in slots if c.value is not None]


def _as_slot(candidate: Candidate) -> Candidate:
    """`candidate`, or the end of the taste it negates in that taste's slot."""
    negates = candidate.metadata.get("negates")
    ended = ended_taste(negates) if isinstance(negates, str) else None
    if candidate.attribute or ended is None:
        return candidate
    attribute, taste = ended
    metadata = {**candidate.metadata, "negates": taste}
    return replace(candidate, attribute=attribute, value=NO_VALUE, metadata=metadata)


def _filed(memory: Memory, candidate: Candidate) -> Candidate:
    """`candidate` in the slot of `memory` if its slot is a guess (`guessed`: "The user left
    Lisboa" may end a job or a home) and it ends or replaces the value `memory` states, as
    revision files a guessed change under the slot whose current value it names; else as
    read."""
    value = memory.metadata.get("value")
    negates = candidate.metadata.get("negates")
    if (
        not candidate.metadata.get("guessed")
        or not isinstance(value, str)
        or not isinstance(negates, str)
        or fold(value) in ("", NO_VALUE)
        or fold(negates) != fold(value)
    ):
        return candidate
    return replace(candidate, attribute=memory.attribute)


def _same_slot(memory: Memory, candidate: Candidate, *, anyones: bool = False) -> bool:
    """Whether `candidate` fills the slot of `memory`: its attribute, or another key of its
    keyed slot (`preference:jazz`, `preference:classical_music`); of the same person, or
    of anyone's (`anyones`: "Ana works at Google" may be the user Ana's, or another Ana's)."""
    if not candidate.attribute or (
        not anyones and candidate.subject != memory.metadata.get("subject")
    ):
        return False
    prefix, keyed, _ = (memory.attribute or "").partition(":")
    theirs, keyed_too, _ = candidate.attribute.partition(":")
    return candidate.attribute == memory.attribute or bool(keyed and keyed_too and prefix == theirs)


def _slot_value(memory: Memory, said: Sequence[Candidate]) -> Candidate | None:
    """The one candidate of `memory`'s slot among `said` (`_same_slot`, one attribute and
    value); None if there is none, or several."""
    read = {(c.attribute or "", fold(c.value or "")): c for c in said if _same_slot(memory, c)}
    return next(iter(read.values())) if len(read) == 1 else None


def _labels(memory: Memory) -> list[str]:
    """What a fact about the user calls the user: "The user", "User" (`USER_LABELS`, as a
    memory added as text does), or the name its turn was said under (`speaker`: "Ana lives
    in Porto"). Not the user's id: "Nia lives in Vigo", of user "nia", may be anyone's (as
    the extractor reads a turn naming Nia)."""
    speaker = memory.metadata.get("speaker")
    named = [speaker] if isinstance(speaker, str) and speaker.strip() else []
    return [*USER_LABELS, *named]


def _value_in(text: str, old_text: str, value: str) -> str | None:
    """The value `text` states where `old_text` stated `value`, all else alike; None if the
    two differ elsewhere, if `old_text` does not state `value`, or if the new words still
    hold it ("Porto, Portugal" details Porto, it names no other city)."""
    around = _around(old_text, value)
    if around is None:
        return None
    before, after = around
    if not (text.startswith(before) and text.endswith(after)):
        return None
    read = text[len(before) : len(text) - len(after)].strip()
    return read if read and fold(value) not in fold(read) else None


def _around(text: str, value: str) -> tuple[str, str] | None:
    """The words of `text` before and after where it states `value` (None if it does not):
    the wording a slot fact gives any value of its slot."""
    at = text.find(value)
    if at < 0 or not value:
        return None
    return text[:at], text[at + len(value) :]


def correction_flow(old: Memory, new: Memory, *, now: datetime) -> Flow[tuple[Memory, list[Any]]]:
    """What else a user's edit of a memory changes: an edit of a slot value is a correction.

    The profile field the memory is the source of takes the new value (`reflect_edit`). The
    relation the memory states (`SLOT_RELATIONS`: `lives_in` for `home_city`) points at the
    new value's entity, resolved or created as an add would, over the same validity: the
    old value was never true, so its relation is rewritten, not ended (a value `none`
    ends it now). The memory names the new value's entity instead of the old one's. A
    keyed slot's key moved by the edit (`preference:jazz` -> `preference:classical_music`)
    moves its profile field, refused (`InvalidInputError`) if another current fact of the
    same person holds the new key. A value set by hand (`timeline.EDITED_AT`) is the
    user's latest word over the memory's span: the slot's values said before it that held
    there end where it begins, and their relations with them (`_fitted_under`).

    Returns:
        The memory to store, and the ops to write in the same batch.
    """
    if (
        new.user_id is None
        or new.attribute is None
        or (new.attribute, profile_value(new)) == (old.attribute, profile_value(old))
    ):
        return new, []
    scope = Scope(new.tenant, new.user_id)
    if new.attribute != old.attribute and new.is_current:
        yield from _check_key_free(scope, new)
    profile, graph = yield from read_user(scope, (), now=now)
    ops: list[Any] = []
    if profile is not None:
        revised = reflect_edit(profile, new, now=now, moved_from=old.attribute)
        if revised is not profile:
            ops.append(PutProfile(scope.tenant, revised))
    value = new.metadata.get("value")
    if new.attribute in SLOT_RELATIONS and isinstance(value, str) and value.strip():
        new, restated = _restated(scope, old, new, value, graph, now)
        ops += restated
    if edited_at(new) != edited_at(old):
        ops += yield from _fitted_under(scope, new, graph, now)
    return new, ops


def _fitted_under(scope: Scope, edited: Memory, graph: Graph, now: datetime) -> Flow[list[Any]]:
    """The ops ending the values of the slot of `edited`, set by hand, that held over its
    span (`ended_by_edit`), and the relations they state: else the value a correction
    rewrites from the memory's start would hold beside one said after that start."""
    where = MemoryFilter(
        user_id=scope.user_id, attributes=(edited.attribute or "",), include_superseded=True
    )
    stored = yield from every_memory(scope.tenant, where)
    slot = [m for m in stored if m.kind != "episode" and slot_key(m) == slot_key(edited)]
    fitted = ended_by_edit(edited, slot, now=now)
    if not fitted:
        return []
    memories = tuple(memory for memory, _change in fitted)
    closed = [
        r for m in memories for r in close_relations(graph.relations, [m.id], m.valid_to or now)
    ]
    ops: list[Any] = [PutMemories(scope.tenant, memories, (), tuple(c for _m, c in fitted))]
    if closed:
        ops.append(PutRelations(scope.tenant, tuple(closed)))
    return ops


def _check_key_free(scope: Scope, memory: Memory) -> Flow[None]:
    """Refuse to move current slot fact `memory` to a key (`preference:classical_music`)
    that another current fact of the same person holds: the two would fill one slot."""
    where = MemoryFilter(user_id=scope.user_id, attributes=(memory.attribute or "",))
    holders = yield from every_memory(scope.tenant, where)
    subject = memory.metadata.get("subject")
    taken = [
        m
        for m in holders
        if m.id != memory.id
        and m.is_current
        and m.kind != "episode"
        and m.metadata.get("subject") == subject
    ]
    if taken:
        raise InvalidInputError(
            f"memory {taken[0].id} already states {memory.attribute} ({taken[0].text!r}): "
            "edit or delete that one instead"
        )


def profile_edit_flow(
    scope: Scope,
    fields: Mapping[str, str | None],
    *,
    model_id: Callable[[], Flow[str]],
    now: datetime,
) -> Flow[list[Any]]:
    """What a hand edit of profile fields changes besides the profile, as ops to write with it.

    The current slot facts of an edited field whose value the edit drops are retired now (not
    deleted: "as of" an earlier time they still answer), and the relations they state end
    now; else one prompt would hold the edited field and the fact it replaced ("home city:
    Braga", "The user lives in Porto"), and search would keep finding the old value.

    A field given a new value is restated in the words of the user's fact it retires ("The
    user lives in Braga", `_restatement`): true from now, the user's latest word
    (`timeline.EDITED_AT`), with its vector, its `add` in the history and the relation it
    states, so search, `get_all` and relations answer as the profile does. A field with no
    such fact (never stated, or stated in words that do not name its value) and a field
    removed (None) are restated by no memory. `model_id` gives the id of the new vectors.
    """
    where = MemoryFilter(user_id=scope.user_id, attributes=tuple(sorted(fields)))
    facts = yield from every_memory(scope.tenant, where)
    stale = [m for m in facts if m.kind != "episode" and _edit_drops(m, fields)]
    if not stale:
        return []
    _, graph = yield from read_user(scope, (), now=now)
    restating: dict[str, tuple[Memory, Memory]] = {}  # attribute -> (old fact, new memory)
    for old in stale:  # oldest first: a slot is restated in its latest fact's words
        new = _restatement(old, fields[old.attribute or ""], now)
        if new is not None:
            restating[old.attribute or ""] = (old, new)
    news: dict[str, Memory] = {}
    stated: list[Any] = []
    for attribute, (old, new) in restating.items():
        if attribute in SLOT_RELATIONS:
            new, relation = _restated(scope, old, new, new.metadata["value"], graph, now)
            stated += relation
        news[attribute] = new
    by = {attribute: new.id for attribute, new in news.items()}
    ended = tuple(
        retired(m, end=m.valid_to or now, now=now, by=by.get(m.attribute or "")) for m in stale
    )
    closed = [r for m in ended for r in close_relations(graph.relations, [m.id], m.valid_to or now)]
    ops: list[Any] = [PutMemories(scope.tenant, ended, (), retired_by_hand(stale, "", now))]
    if closed:
        ops.append(PutRelations(scope.tenant, tuple(closed)))
    if news:
        ops.append((yield from _stored_by_hand(scope, tuple(news.values()), model_id, now)))
    return [*ops, *stated]


def _restatement(old: Memory, value: str | None, now: datetime) -> Memory | None:
    """The memory stating the `value` a hand edit gives the slot of `old`, a fact about the
    user it retires, in the words of `old` ("The user lives in Porto" -> "... in Braga"):
    true from now, said now. None if `value` is None or `old` does not name its value (no
    words to state the new one in)."""
    before = old.metadata.get("value")
    if value is None or old.metadata.get("subject") is not None:
        return None
    text = _in_words(old, value)
    if text is None:
        return None
    value = value.strip()
    said = {"value": value, "said_at": now.isoformat(), EDITED_AT: now.isoformat()}
    if "entities" in old.metadata:  # the old value's name swapped for the new one's
        said["entities"] = old.metadata["entities"]
    return Memory(
        text=text,
        kind=old.kind,
        tenant=old.tenant,
        user_id=old.user_id,
        attribute=old.attribute,
        metadata=_value_entities(said, before, value),
        importance=old.importance,
        entity_ids=old.entity_ids,
        valid_from=now,
        recorded_at=now,
        created_at=now,
        updated_at=now,
        pinned=old.pinned,
    )


def _stored_by_hand(
    scope: Scope, news: tuple[Memory, ...], model_id: Callable[[], Flow[str]], now: datetime
) -> Flow[PutMemories]:
    """The write of the memories a profile edit restates its fields in, each with its vector
    (embedded with the current model) and its `add` in the history."""
    vectors = yield from vector_records(scope.tenant, news, model_id)
    added = tuple(
        MemoryChange(
            m.id,
            "add",
            new_text=m.text,
            reason=f"profile field {m.attribute} edited by hand",
            tenant=m.tenant,
            at=now,
        )
        for m in news
    )
    return PutMemories(scope.tenant, news, vectors, added)


def edit_reason(old: Memory, new: Memory) -> str:
    """Why a user's edit of `old` into `new` is in the history: "user edit", then what it
    changed besides the text: the slot's key, importance, pinned, and the metadata keys a
    caller sees (theirs and `value`; not Engram's own, `entities` or `timeline.EDITED_AT`),
    before -> after ("metadata {'value': 'Porto'} -> {'value': 'Faro'}")."""
    edits = [
        f"{name} {before!r} -> {after!r}"
        for name, before, after in (
            ("attribute", old.attribute, new.attribute),
            ("importance", old.importance, new.importance),
            ("pinned", old.pinned, new.pinned),
        )
        if before != after
    ]
    shown = [
        key
        for key in dict.fromkeys([*old.metadata, *new.metadata])
        if (key == "value" or key not in ENGRAM_METADATA_KEYS)
        and (key in old.metadata, old.metadata.get(key))
        != (key in new.metadata, new.metadata.get(key))
    ]
    if shown:
        before = {key: old.metadata[key] for key in shown if key in old.metadata}
        after = {key: new.metadata[key] for key in shown if key in new.metadata}
        edits.append(f"metadata {before!r} -> {after!r}")
    return "; ".join(["user edit", *edits])


def vector_records(
    tenant: str, memories: Sequence[Memory], model_id: Callable[[], Flow[str]]
) -> Flow[tuple[VectorRecord, ...]]:
    """The vectors of `memories`, embedded with the current model, as `PutMemories` stores
    them. The embedding comes first: it teaches an embedder its dimension, so `model_id`
    (`Memories._model_id`) need not send a probe of its own."""
    matrix = yield from embed([dense_text(m) for m in memories], tenant=tenant)
    model = yield from model_id()
    return tuple(VectorRecord(model, row) for row in matrix)


def retired_by_hand(
    memories: Iterable[Memory], when: str, now: datetime
) -> tuple[MemoryChange, ...]:
    """The audit entries of slot facts a hand edit of their profile field retired."""
    return tuple(
        MemoryChange(
            memory.id,
            "supersede",
            old_text=memory.text,
            new_text=memory.text,
            reason=" ".join(f"profile field {memory.attribute} edited by hand {when}".split()),
            tenant=memory.tenant,
            at=now,
        )
        for memory in memories
    )


def _edit_drops(memory: Memory, fields: Mapping[str, str | None]) -> bool:
    """Whether the edit of `fields` drops the slot value `memory` states."""
    value = fields[memory.attribute or ""]
    return value is None or fold(profile_value(memory)) != fold(value)


def _restated(
    scope: Scope, old: Memory, new: Memory, value: str, graph: Graph, now: datetime
) -> tuple[Memory, list[Any]]:
    """The slot relation of `new` (edited from `old`) pointing at its new `value` (see
    `correction_flow`): the memory naming the value's entity (an ending, the entity of the
    value it names as ended), and the ops to write."""
    relation, kind = SLOT_RELATIONS[new.attribute or ""]
    stated = [r for r in graph.relations if r.memory_id == new.id and r.relation == relation]
    before = old.metadata.get("value")
    dropped = {r.target_id for r in stated}
    if isinstance(before, str) and before.strip():
        dropped |= {entity.id for entity in graph.entities if is_named(entity, before)}
    kept = tuple(entity_id for entity_id in new.entity_ids if entity_id not in dropped)
    if fold(value) == NO_VALUE:
        ended = tuple(
            replace(r, valid_to=max(now, r.valid_from or now)) for r in stated if r.valid_to is None
        )
        # An ending naming the value it ends ("The user no longer lives in Porto") names
        # its entity still, as the ending a message states does.
        negated = new.metadata.get("negates")
        named = isinstance(negated, str) and fold(negated) == fold(str(before))
        corrected = (
            new
            if named
            else replace(new, entity_ids=kept, metadata=_value_entities(new.metadata, before, None))
        )
        return corrected, [PutRelations(scope.tenant, ended)] if ended else []
    mention = EntityMention(value, kind)
    entities = resolve_entities(
        [mention], graph.entities, tenant=scope.tenant, user_id=scope.user_id, now=now
    )
    target = entities.ids[fold(value)]
    touched = [*entities.new, *entities.updated]
    relations = [replace(r, target_id=target) for r in stated]
    if not stated and new.metadata.get("subject") is None:
        me = graph.me or new_user_entity(scope, None, now)
        touched += [] if graph.me else [me]
        relations = [_user_relation(me, relation, target, new)]
    corrected = replace(
        new,
        entity_ids=tuple(dict.fromkeys((*kept, target))),
        metadata=_value_entities(new.metadata, before, value),
    )
    ops: list[Any] = [PutEntities(scope.tenant, tuple(touched))] if touched else []
    if relations:
        ops.append(PutRelations(scope.tenant, tuple(relations)))
    return corrected, ops


def _user_relation(me: Entity, relation: str, target_id: str, memory: Memory) -> Relation:
    """The relation of the user to an entity that `memory` states, true while it is."""
    stated = Relation(
        source_id=me.id,
        relation=relation,
        target_id=target_id,
        tenant=memory.tenant,
        user_id=memory.user_id,
        memory_id=memory.id,
        valid_from=memory.valid_from,
    )
    return while_true(stated, memory)


def _value_entities(metadata: Mapping[str, Any], before: Any, value: str | None) -> dict[str, Any]:
    """`metadata` whose entity names (`entities`, if listed) name `value` (if any) instead
    of `before`."""
    names = metadata.get("entities")
    if not isinstance(names, list):
        return dict(metadata)
    old = fold(before) if isinstance(before, str) else None
    kept = [name for name in names if not isinstance(name, str) or fold(name) != old]
    return {**metadata, "entities": list(dict.fromkeys([*kept, *([value] if value else [])]))}
