"""The fusion's parameters: how much each signal counts, validated once, with the tuned defaults.

Kept apart from the code that applies them so that computing a memory's features and fusing
the lists both read the same `RankingWeights` without depending on each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from engram._exceptions import InvalidInputError

__all__ = ["DEFAULT_WEIGHTS", "FusionMethod", "RankingWeights"]


FusionMethod = Literal["rrf", "weighted"]


@dataclass(frozen=True, slots=True)
class RankingWeights:
    """How the signals combine. Defaults are the values tuned on the dev data.

    Example:
        ```python
        RankingWeights(entity=0.0)  # ignore entity matches
        RankingWeights(method="weighted", dense=0.7, lexical=0.3)
        ```
    """

    method: FusionMethod = "weighted"
    """`weighted`: sum over the lists of weight x score / the list's best score (a memory
    absent from a list gets 0 for it); `rrf`: sum of weight / (rrf_k + rank)."""
    rrf_k: float = 60.0
    """RRF's rank offset: larger flattens the difference between the top ranks."""
    dense: float = 0.6
    """Weight of the embedding similarity list."""
    lexical: float = 0.4
    """Weight of the BM25 list."""
    entity: float = 0.5
    """Boost for the share of the query's entities the memory mentions."""
    slot: float = 4.0
    """Boost for the user's slot facts that answer the question (`asked_slots`: the home
    city for "Where does Ana live?"): the value held at the time asked about, which often
    shares no word with the question ("Ana moved to Berlin"), ranks above the turns that
    merely do ("My sister Marta lives in Madrid"), now and "as of" any date."""
    time: float = 1.0
    """Boost for memories whose time fits the query: dated in a period the query names ("in
    July 2023", "last week"), or stating a time (`metadata["event_date"]`) when the query
    asks "when"."""
    recency: float = 0.0
    """Boost for recent memories (see `half_life_days`)."""
    importance: float = 0.0
    """Boost for the memory's importance (0..1)."""
    decay: float = 0.0
    """Boost for memories fresh in memory (`forgetting.decay`: recorded or recalled lately,
    pinned ones never fading; half-life `half_life_days`). Unlike `recency`, which dates
    what a memory is about, this follows its use."""
    session: float = 2.0
    """Boost for memories of the sessions whose best candidates score high (relative to the
    strongest session; a candidate no longer current counts with its `superseded` factor):
    evidence clusters where a topic was discussed. A memory of no session, among memories of
    some, gets the whole boost: it is not demoted for want of one."""
    superseded: float = 0.2
    """Factor for memories no longer current, and for episodes that only state retired values
    (`stale_episodes`; one that also states current values gets a share of it, see
    `MemoryFeatures.current`): never 0, a superseded memory stays findable, below the current
    one.
    Low because a stale episode ("I live in Lisbon") often matches a question better than the
    statement that replaced it ("I just moved to Porto")."""
    filler: float = 0.5
    """Factor for a chat turn that says nothing but function words and acknowledgements
    ("Saved.", "Ok, thanks!") or only asks ("What's the weather in Porto?"; `is_filler`): it
    matches a question by the words every turn has, and would take a place that a turn with
    something to say needs. Above 0, it stays findable; 1 turns this off. LoCoMo (named
    speakers, never filler) is unchanged."""
    echo: float = 0.1
    """Factor for an earlier question that asks nothing the query does not (`is_echo`:
    "Where do I live?" recalled for "Where do I live?" again), on top of `filler`: it is
    the query's best match in words and in meaning, yet says nothing, and with `filler`
    alone (0.5) it still outranks the turn that answers ("I moved to Faro last month").
    Above 0, it stays findable; 1 turns this off. LoCoMo (named speakers, never echoes) is
    unchanged."""
    half_life_days: float = 180.0
    """Age, or time unused, at which the recency and decay features fall to 0.5."""

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "weighted"):
            raise InvalidInputError(f"unknown fusion method {self.method!r}")
        if self.rrf_k < 0:
            raise InvalidInputError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.half_life_days <= 0:
            raise InvalidInputError(f"half_life_days must be > 0, got {self.half_life_days}")
        if not 0 <= self.superseded <= 1:
            raise InvalidInputError(f"superseded must be in 0..1, got {self.superseded}")
        if not 0 <= self.filler <= 1:
            raise InvalidInputError(f"filler must be in 0..1, got {self.filler}")
        if not 0 <= self.echo <= 1:
            raise InvalidInputError(f"echo must be in 0..1, got {self.echo}")
        weights = (
            self.dense,
            self.lexical,
            self.entity,
            self.slot,
            self.time,
            self.recency,
            self.importance,
            self.decay,
            self.session,
        )
        if any(weight < 0 or not math.isfinite(weight) for weight in weights):
            raise InvalidInputError("ranking weights must be finite and >= 0")


DEFAULT_WEIGHTS = RankingWeights()
"""The tuned defaults."""
