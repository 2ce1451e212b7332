"""User profiles: the current value of each attribute, kept up to date from memories.

`update_profile(profile, memories)` folds memories into a `UserProfile`: for each attribute
(`name`, `diet`, `home_city`, `employer`, `partner`, `preference:sushi`, ...) the value of the
latest current memory about the user, with that memory's id as its source. A field whose source
memory was superseded without a replacement is dropped, and so is a field whose latest value is
`none` ("I quit my job" -> no employer; "I don't live in Paris anymore" -> no home city). A
field edited by hand (`edit_profile`; its source is `EDITED`) changes only when a memory
recorded after the edit says so; so does one removed by hand, whose source stays `EDITED`
with no value (a removal is an edit too: a statement said before it does not undo it). A
user's edit of a memory (`reflect_edit`) changes the field the memory is the source of.
A value to come (a plan's: "I start at Google next month", employer Google from then) fills
its field once it begins, and the value it retires keeps it until then (`begun` lists those
begun since the profile was stored). `profile_at` builds the profile as it stood at
a past time from the memories true then.

Example:
    ```python
    profile = update_profile(None, memories, user_id="u1", names=["Ana"])
    profile.fields["home_city"], profile.sources["home_city"]     # "Lisbon", "<memory id>"
    ```
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from engram._exceptions import InvalidInputError
from engram.memory._revision_decision import retired
from engram.memory._revision_slots import slot_key
from engram.memory.candidates import NO_VALUE
from engram.memory.entities import fold
from engram.memory.timeline import to_come
from engram.types._conversation import DEFAULT_TENANT
from engram.types._memory import Memory, UserProfile
from engram.types._time import utcnow

__all__ = [
    "EDITED",
    "TO_COME",
    "begun",
    "edit_profile",
    "field_text",
    "handed_over",
    "overridden_by_edits",
    "profile_at",
    "profile_value",
    "reflect_edit",
    "update_profile",
]

EDITED = "edited"
"""The source of a field set by hand (`edit_profile`) instead of taken from a memory."""


def _fills_field(memory: Memory) -> bool:
    """Whether `memory` holds a slot as revision has it (`slot_key`: an attribute, whatever
    its kind but an episode's): a slot fact the model calls an event ("Ana moved to Rome in
    June", `home_city`) retires the old home city, so it is the home city."""
    return memory.kind != "episode" and slot_key(memory) is not None


_FIELD_TEXTS = {
    "preference": "{value}: {topic}",
    "allergy": "{value}: {topic}",
    "count": "number of {topic}: {value}",
    "age": "age of {topic}: {value}",
}
"""How a field of a keyed slot (`preference:sushi`) reads: "likes: sushi", "allergic:
peanuts", "number of kids: 2", "age of tomás: 7". Other prefixes read "language spanish:
fluent"; a habit, `avoids:`, reads as `_habit_text` says."""


_HABIT_VALUE = re.compile(r"(?:eats|drinks|smokes|doesn't|can't)(?:\s+\w+)?$")
"""A habit's value as the rules give it: what the user does ("eats") or does not."""


def _habit_text(topic: str, value: str) -> str:
    """How a habit field (`avoids:meat`, whose value is what the user does of it: "eats",
    "doesn't eat", "can't have") reads: the value, then what ("eats fish", "doesn't eat
    meat", "can't have dairy"), never "avoids fish: eats". A habit named by its verb
    (`avoids:smoking`: "smokes", "doesn't smoke") reads as the value alone. Another value
    (a hand edit's "strictly") reads as other fields do: "avoids gluten: strictly"."""
    verb = value.split()[-1]
    if topic == verb.removesuffix("s").removesuffix("e") + "ing":
        return value
    return f"{value} {topic}"


def field_text(attribute: str, value: str) -> str:
    """How a profile field reads in a prompt: its name in words, then its value ("home city:
    Porto", "likes: sushi"), never its internal key (`preference:sushi`)."""
    prefix, _, topic = attribute.partition(":")
    if prefix == "avoids" and topic and _HABIT_VALUE.match(value):
        return _habit_text(topic.replace("_", " "), value)
    template = _FIELD_TEXTS.get(prefix) if topic else None
    if template is None:
        return f"{attribute.replace('_', ' ').replace(':', ' ')}: {value}"
    return template.format(topic=topic.replace("_", " "), value=value)


def profile_value(memory: Memory) -> str:
    """The value a memory gives its attribute: `metadata["value"]`, else its text."""
    value = memory.metadata.get("value")
    return str(value) if value is not None else memory.text


def _about_user(memory: Memory, names: Collection[str]) -> bool:
    subject = memory.metadata.get("subject")
    return subject is None or fold(str(subject)) in names


def _said_at(memory: Memory) -> datetime:
    return memory.valid_from or memory.recorded_at


TO_COME = {"plan": True}
"""The metadata of a slot value to come (a plan's: employer Google from next month), as
the memory flows list them (with the kind "profile") to fold those `begun` into the stored
profile."""


def _holds(memory: Memory, moment: datetime) -> bool:
    """Whether `memory` gives its field at `moment`: not retired by then, and true then (its
    `valid_to`, the start of a value to come that replaces it, still ahead); a value to come
    (`TO_COME`: a job to start next month) only once begun. A value whose end has come is
    history."""
    if to_come(memory, moment):
        return False
    if memory.superseded_at is not None and memory.superseded_at <= moment:
        return False
    return memory.valid_to is None or memory.valid_to > moment


def _latest_current(memories: Iterable[Memory], moment: datetime) -> dict[str, Memory]:
    return _latest(m for m in memories if _holds(m, moment))


def _latest(memories: Iterable[Memory]) -> dict[str, Memory]:
    """attribute -> the memory that gave it last (`valid_from`, else `recorded_at`)."""
    latest: dict[str, Memory] = {}
    for memory in memories:
        if memory.attribute is None:
            continue
        best = latest.get(memory.attribute)
        if best is None or (_said_at(memory), memory.recorded_at) >= (
            _said_at(best),
            best.recorded_at,
        ):
            latest[memory.attribute] = memory
    return latest


def _take(fields: dict[str, str], sources: dict[str, str], attribute: str, memory: Memory) -> None:
    """Set `attribute` to the value `memory` gives it (none: the field goes)."""
    value = profile_value(memory)
    if value.strip().lower() == NO_VALUE:
        fields.pop(attribute, None)
        sources.pop(attribute, None)
    else:
        fields[attribute], sources[attribute] = value, memory.id


def update_profile(
    profile: UserProfile | None,
    memories: Iterable[Memory],
    *,
    user_id: str | None = None,
    tenant: str = DEFAULT_TENANT,
    names: Collection[str] = (),
    now: datetime | None = None,
    moment: datetime | None = None,
) -> UserProfile:
    """`profile` updated with `memories` (a new profile if None).

    Args:
        profile: The stored profile, or None.
        memories: The user's memories (new and changed ones suffice; all of them rebuild it).
        user_id: The user, for a new profile (default: the first memory's user).
        tenant: The tenant, for a new profile.
        names: Other names of the user: memories whose `subject` is one of them count as about
            the user (memories with no subject always do).
        now: The profile's new `updated_at`.
        moment: When the fields hold (default `now`; an add of an old chat gives the
            clock's time): a value to come is left out until it begins (`_holds`).

    Returns:
        The updated profile.
    """
    items = list(memories)
    now = now or utcnow()
    moment = moment or now
    base = profile or UserProfile(
        user_id=user_id or next((m.user_id for m in items if m.user_id), "") or "",
        tenant=tenant,
    )
    folded = {fold(name) for name in names}
    about = [m for m in items if _fills_field(m) and _about_user(m, folded)]
    fields, sources = dict(base.fields), dict(base.sources)
    given = {memory.id: memory for memory in about}
    for attribute, source in list(sources.items()):
        old = given.get(source)
        if old is not None and not _holds(old, moment):
            fields.pop(attribute, None)
            sources.pop(attribute)
    for attribute, memory in _latest_current(about, moment).items():
        held = attribute in fields or sources.get(attribute) == EDITED  # set, or removed
        hand_edited = held and sources.get(attribute) not in given
        if hand_edited and profile is not None and memory.recorded_at <= profile.updated_at:
            continue
        _take(fields, sources, attribute, memory)
    return UserProfile(
        user_id=base.user_id,
        tenant=base.tenant,
        fields=fields,
        sources=sources,
        last_interaction_at=_last_interaction(base.last_interaction_at, items),
        # Never back in time (a replayed old conversation must not undo a later hand edit).
        updated_at=max(profile.updated_at, now) if profile is not None else now,
    )


def begun(profile: UserProfile, to_come: Iterable[Memory], moment: datetime) -> list[Memory]:
    """The values to come among `to_come` (`TO_COME`) that have begun by `moment` and that
    `profile` does not hold: it was stored when last folded, before the job said to start
    next month had started. A current value to come that has begun is its slot's latest
    word (a value said since retires it), so the fold takes it, unless a hand edit came
    after it was said (`update_profile`)."""
    return [
        m
        for m in to_come
        if m.attribute and _holds(m, moment) and profile.sources.get(m.attribute) != m.id
    ]


def profile_at(
    memories: Iterable[Memory],
    *,
    moment: datetime,
    user_id: str,
    tenant: str = DEFAULT_TENANT,
    names: Collection[str] = (),
) -> UserProfile:
    """The profile as it stood at `moment`, built from `memories`: those true then, by all
    Engram knows now (what `get_all(as_of=moment)` returns). Each attribute takes the value
    of the latest of them about the user (`update_profile`'s choice, among the memories
    true then rather than the current ones); `none` leaves it out. Hand edits count as the
    slot facts they wrote; `updated_at` is `moment`.

    Example:
        ```python
        profile_at(memories, moment=march, user_id="u1").fields["home_city"]  # "Lisbon"
        ```
    """
    items = list(memories)
    folded = {fold(name) for name in names}
    about = [m for m in items if _fills_field(m) and _about_user(m, folded)]
    fields: dict[str, str] = {}
    sources: dict[str, str] = {}
    for attribute, memory in _latest(about).items():
        _take(fields, sources, attribute, memory)
    return UserProfile(
        user_id=user_id,
        tenant=tenant,
        fields=fields,
        sources=sources,
        last_interaction_at=_last_interaction(None, items),
        updated_at=moment,
    )


def handed_over(
    profile: UserProfile, successors: Mapping[str, Memory], *, now: datetime
) -> UserProfile:
    """`profile` with each field taken from a retired memory (a key of `successors`) taken
    from the memory that retired it instead (its value)."""
    fields, sources = dict(profile.fields), dict(profile.sources)
    for attribute, source in profile.sources.items():
        successor = successors.get(source)
        if successor is not None:
            _take(fields, sources, attribute, successor)
    if (fields, sources) == (profile.fields, profile.sources):
        return profile
    updated_at = max(profile.updated_at, now)
    return replace(profile, fields=fields, sources=sources, updated_at=updated_at)


def edit_profile(
    profile: UserProfile | None,
    fields: Mapping[str, str | None],
    *,
    user_id: str,
    tenant: str = DEFAULT_TENANT,
    now: datetime | None = None,
) -> UserProfile:
    """`profile` (a new one if None) with `fields` set by hand; a None value removes its
    field. An edited field keeps its value until a memory recorded after the edit changes it;
    a removed one stays removed until then (its source stays `EDITED`, with no value: else a
    statement said before the removal, replayed or written after it, would bring it back).

    Raises:
        InvalidInputError: A field name is empty or a value is neither text nor None.
    """
    edited = profile or UserProfile(user_id=user_id, tenant=tenant)
    values, sources = dict(edited.fields), dict(edited.sources)
    for attribute, value in fields.items():
        if not isinstance(attribute, str) or not attribute.strip():
            raise InvalidInputError(f"a profile field needs a name, got {attribute!r}")
        if value is None:
            values.pop(attribute, None)
            sources[attribute] = EDITED
        elif isinstance(value, str) and value.strip():
            values[attribute], sources[attribute] = value.strip(), EDITED
        else:
            raise InvalidInputError(f"profile field {attribute!r}: text or None, got {value!r}")
    return replace(edited, fields=values, sources=sources, updated_at=now or utcnow())


def overridden_by_edits(
    profile: UserProfile | None, memories: Iterable[Memory], *, now: datetime
) -> dict[str, Memory]:
    """The current slot facts among `memories` that a later hand edit of their field
    overrides, each retired: valid until the edit, superseded `now`.

    A fact said before an edit but written after it (an add that waited for the edit's
    lock, a replayed conversation) does not change the edited field (`update_profile`); left
    current, it would contradict the profile in every prompt ("diet: keto" beside "The user
    is vegan"). The edit's time is the profile's `updated_at`, as `update_profile` takes it.
    """
    if profile is None:
        return {}
    edited_at = profile.updated_at
    overridden: dict[str, Memory] = {}
    for memory in memories:
        attribute = memory.attribute
        if (
            attribute is None
            or profile.sources.get(attribute) != EDITED
            or not memory.is_current
            or not _fills_field(memory)
            or not _about_user(memory, ())
            or memory.recorded_at > edited_at
            or fold(profile_value(memory)) == fold(profile.fields.get(attribute, ""))
        ):
            continue
        overridden[memory.id] = retired(memory, end=edited_at, now=now)
    return overridden


def reflect_edit(
    profile: UserProfile, memory: Memory, *, now: datetime, moved_from: str | None = None
) -> UserProfile:
    """`profile` after a user's edit of `memory`: the field the memory is the source of takes
    its value (`profile_value`), or goes if the value is `none` or the memory is retired.
    A field edited by hand before takes the value of a current fact about the user too,
    from then on its source: the later of two hand edits is the user's latest word. So does
    the field of a key the edit moved a current fact to (`moved_from`, its key before: "The
    user enjoys jazz" edited to "... classical music"), and the field of the old key goes
    if the memory was its source. So does an absent field (no value, no source) of a current
    fact about the user: the end of a slot the fact recorded ("The user quit their job",
    the field gone) edited back to a value ("The user works at Meta") fills it again.
    Fields from other memories are left alone (`profile` itself is returned if nothing
    changes)."""
    attribute = memory.attribute
    source = profile.sources.get(attribute or "")
    about_user_now = memory.is_current and _fills_field(memory) and _about_user(memory, ())
    moved = moved_from not in (None, attribute)
    edited_before = source == EDITED and profile.updated_at <= now and about_user_now
    absent = source is None and attribute not in profile.fields and about_user_now
    if attribute is None or (source != memory.id and not (edited_before or absent or moved)):
        return profile
    fields, sources = dict(profile.fields), dict(profile.sources)
    if moved:
        if sources.get(moved_from or "") == memory.id:
            fields.pop(moved_from or "", None)
            sources.pop(moved_from or "")
        elif not about_user_now:
            return profile
    value = profile_value(memory)
    if memory.superseded_at or memory.valid_to or value.strip().lower() == NO_VALUE:
        fields.pop(attribute, None)
        sources.pop(attribute, None)
    else:
        fields[attribute], sources[attribute] = value, memory.id
    if (fields, sources) == (profile.fields, profile.sources):
        return profile
    return replace(profile, fields=fields, sources=sources, updated_at=max(profile.updated_at, now))


def _last_interaction(previous: datetime | None, memories: Iterable[Memory]) -> datetime | None:
    """The latest time the user spoke: episodes' `valid_from` (when they were said)."""
    moments = [m.valid_from for m in memories if m.kind == "episode" and m.valid_from]
    if previous is not None:
        moments.append(previous)
    return max(moments, default=None)
