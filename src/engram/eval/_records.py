"""The evaluation's records: conversations, their turns and questions, and retrieved items.

Both benchmarks are normalised to one shape. A `EvalConversation` is what one memory scope
(one `user_id`) ingests: dated sessions of turns, plus the questions asked about it. Every
turn has a dataset-wide id (LoCoMo's `dia_id` such as `D1:3`; LongMemEval's official
`<session_id>_<n>`, n counted from 1 over the whole session) that the evidence labels use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from engram.types import Message, Role

__all__ = [
    "EvalConversation",
    "EvalQuestion",
    "EvalSession",
    "EvalTurn",
    "RetrievedItem",
    "opaque_session_id",
]


@dataclass(frozen=True, slots=True)
class EvalTurn:
    """One dialogue turn, as it is ingested into memory."""

    id: str
    """The dataset's turn id, used by the evidence labels."""
    session_id: str
    """The id of the session it belongs to."""
    role: Role
    """`user` or `assistant` (both LoCoMo speakers are users of the memory)."""
    speaker: str
    """Who spoke: the speaker's name (LoCoMo) or the role (LongMemEval)."""
    text: str
    """What was said (for LoCoMo image turns, with the image caption appended)."""
    at: datetime
    """When it was said: its session's date, plus its position in seconds (keeps order)."""

    def to_message(self) -> Message:
        """The turn as the message an application would add (speaker as `name`).

        Its session id is an opaque digest of the dataset's: LongMemEval names the evidence
        sessions `answer_...`, a label the memory under test must not see.
        """
        return Message(
            role=self.role,
            content=self.text,
            name=self.speaker if self.speaker != self.role else None,
            created_at=self.at,
            session_id=opaque_session_id(self.session_id),
        )


def opaque_session_id(session_id: str) -> str:
    """A session id that tells nothing about the session (same input, same id)."""
    return "s-" + hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class EvalSession:
    """One dated session of a conversation."""

    id: str
    """`D<n>` for LoCoMo session n; the haystack session id for LongMemEval."""
    at: datetime
    """The session's date."""
    turns: tuple[EvalTurn, ...]
    """Its turns, in order (for LongMemEval: only the indexed roles)."""


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """A question with its evidence labels (already normalised and checked)."""

    id: str
    """Unique within the dataset."""
    text: str
    """The question."""
    category: str
    """LoCoMo: `multi-hop`, `temporal`, `open-domain`, `single-hop`; LongMemEval: its
    `question_type`."""
    evidence_turns: frozenset[str]
    """Ids of the turns that hold the answer (may be empty for LongMemEval questions whose
    evidence is only in unindexed turns)."""
    evidence_sessions: frozenset[str]
    """Ids of the sessions that hold the answer."""
    asked_at: datetime | None = None
    """When the question is asked (LongMemEval's `question_date`)."""


@dataclass(frozen=True, slots=True)
class EvalConversation:
    """What one memory scope ingests, and the questions asked about it."""

    id: str
    """LoCoMo `sample_id`; LongMemEval `question_id` (one haystack per question)."""
    sessions: tuple[EvalSession, ...]
    """Its sessions, in chronological order."""
    questions: tuple[EvalQuestion, ...]
    """The evaluated questions."""

    @property
    def turns(self) -> tuple[EvalTurn, ...]:
        """Every turn of every session, in order."""
        return tuple(turn for session in self.sessions for turn in session.turns)


@dataclass(frozen=True, slots=True)
class RetrievedItem:
    """One search result, as the metrics see it."""

    text: str
    """The text that would be put in the model's context."""
    turn_ids: tuple[str, ...]
    """The dataset turns it stands for (its provenance), most relevant first."""
    score: float = 0.0
    """The retriever's score (higher is better); informative only."""
