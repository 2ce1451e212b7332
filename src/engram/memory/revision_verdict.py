"""Belief revision's one LLM question: is an ambiguous new memory the same as, a refinement
of, or a contradiction of the stored one it resembles?

`decide()` (in `revision`) settles every case it can without a model. A new memory in the grey
zone of similarity, with no slot to tell, is an `add` with `ambiguous_with` set;
`decision_flow()` asks the LLM about it in one tiny JSON prompt, within the add's budget, and
`parse_verdict` reads the reply conservatively: whatever is not clear adds the new memory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from json_repair import repair_json

from engram.memory._revision_decision import Decision
from engram.memory.llm_flow import ExtractionBudget, LLMFlow, LLMRequest, ask, prompt_tokens
from engram.memory.revision import (
    DEFAULT_POLICY,
    RevisionPolicy,
    decide,
    resolve_ambiguous,
)
from engram.providers.openai import without_reasoning
from engram.types._memory import Memory

__all__ = ["decision_flow", "parse_verdict"]

_VERDICT_PROMPT = """\
Compare two statements about the same person. Reply with JSON only: {{"relation": R}} where R \
is "same" (same meaning), "refines" (the new one adds detail to the old one), "contradicts" \
(the new one makes the old one no longer true) or "unrelated".
Old ({old_date}): {old}
New ({new_date}): {new}"""
_VERDICTS = ("same", "refines", "contradicts", "unrelated")
_PROSE_VERDICTS = ("refines", "contradicts")
"""What prose may settle: never `same`, which drops the new memory on a word match."""
_VERDICT_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_PROSE_NEGATIONS = frozenset(
    "no not never neither nor cannot can't don't doesn't didn't isn't aren't wasn't won't".split()
)
_CLAUSE = re.compile(r"[.;:!?,\n]+")
_VERDICT_TOKENS = 1024
"""The reply's `max_tokens` when the budget affords it: a verdict is a few tokens, but a
reasoning model thinks (`<think>...</think>`) before it answers, and its thoughts count."""
_ANSWER_TOKENS = 24
"""The least a verdict is asked with: the answer alone, with no room to think."""
_VERDICT_CHARS = 1000
"""The most of a reply read for a verdict: json-repair takes time growing with the square
of its input, and a server that ignores `max_tokens` may run on."""


def _verdict_request(old: Memory, new: Memory, reply_tokens: int) -> LLMRequest:
    def day(memory: Memory) -> str:
        moment = memory.valid_from or memory.recorded_at
        return moment.date().isoformat()

    content = _VERDICT_PROMPT.format(
        old=old.text, new=new.text, old_date=day(old), new_date=day(new)
    )
    messages = ({"role": "user", "content": content},)
    return LLMRequest(messages, reply_tokens, {"type": "json_object"})


def parse_verdict(text: str) -> str:
    """The verdict in a model's reply; `unrelated` (add the new memory) unless it is clear.

    A JSON `{"relation": R}` (or a bare word) that is exactly a verdict is taken as is. Prose
    is read conservatively: it settles `refines` or `contradicts` only if that is the one
    verdict it names, and in no clause is a verdict word negated ("they are not the same");
    it never settles `same`, since a word match must never drop a new memory. A reasoning
    model's thoughts are no verdict, finished or cut off (`without_reasoning`).
    """
    text = without_reasoning(text or "")[:_VERDICT_CHARS]  # a verdict is a word or two
    try:
        data = repair_json(text, return_objects=True)
    except Exception:  # a third-party parser on untrusted text: unreadable = prose
        data = None
    found = data
    if isinstance(data, Mapping):  # {"relation": R}, or a model's own key for it
        found = data.get("relation", next(iter(data.values())) if len(data) == 1 else None)
    if isinstance(found, str) and (word := _bare_verdict(found)) is not None:
        return word
    if isinstance(data, Mapping):
        return "unrelated"  # structured, but no verdict: nothing to read in the prose
    if (word := _bare_verdict(text)) is not None:
        return word
    return _prose_verdict(text)


def _bare_verdict(text: str) -> str | None:
    """The verdict `text` is, give or take case, quotes and punctuation."""
    word = text.strip().strip("\"'`.!").strip().lower()
    return word if word in _VERDICTS else None


def _prose_verdict(text: str) -> str:
    named: set[str] = set()
    for clause in _CLAUSE.split(text.lower()):
        words = _VERDICT_WORD.findall(clause)
        for index, word in enumerate(words):
            if word in _VERDICTS:
                if _PROSE_NEGATIONS.intersection(words[:index]):
                    return "unrelated"  # "not the same", "doesn't contradicts": ambiguous
                named.add(word)
    if len(named) == 1 and (verdict := named.pop()) in _PROSE_VERDICTS:
        return verdict
    return "unrelated"


def decision_flow(
    new: Memory,
    similar: Sequence[tuple[Memory, float]],
    *,
    now: datetime,
    budget: ExtractionBudget | None = None,
    policy: RevisionPolicy = DEFAULT_POLICY,
) -> LLMFlow[Decision]:
    """`decide()`, then one LLM question for an ambiguous case if `budget` allows it.

    Drive it with `engram.memory.llm_flow.drive(flow, model)` or `adrive`; without a budget
    (or once it is spent, or if the call fails) ambiguous cases are added as new.
    """
    decision = decide(new, similar, now=now, policy=policy)
    if decision.ambiguous_with is None or budget is None:
        return decision
    request = _verdict_request(decision.ambiguous_with, new, _ANSWER_TOKENS)
    prompt = prompt_tokens(request.messages)
    if not budget.allows(prompt + _ANSWER_TOKENS):
        return decision
    # Room to think as the budget affords it (`_VERDICT_TOKENS`), at least the answer's.
    room = max(_ANSWER_TOKENS, min(_VERDICT_TOKENS, budget.tokens_left - prompt))
    request = request._replace(max_tokens=room)
    completion = yield from ask(request, budget)  # retries charged, within the budget
    if completion is None:
        return decision
    return resolve_ambiguous(decision, parse_verdict(completion.text), now=now)
