"""QA of `summary` without an LLM: the extractive summary keeps something of every folded
turn within its size and says what it left out, the report counts that as dropped, the
summary sent does not repeat the turns sent verbatim after it, and the history sent after it
starts on a user message, as under `token_budget`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engram import Engram
from engram.context import SUMMARY_PREFIX, ContextResult
from engram.tokens import TokenCounter

GPT4O = TokenCounter.for_model("gpt-4o")
LEFT_OUT = re.compile(r"^\[… (\d+) messages? left out …\]$")


def summary_sent(result: ContextResult) -> str | None:
    texts = [m.text for m in result.messages if m.text.startswith(SUMMARY_PREFIX)]
    return texts[0].removeprefix(SUMMARY_PREFIX) if texts else None


def history_sent(result: ContextResult) -> list[dict[str, object]]:
    """The messages sent after the system prompt and the summary."""
    return [m for m in result.to_openai() if m["role"] != "system"]


def travel_chat(tmp_path: Path, turns: int) -> tuple[Engram, list[ContextResult]]:
    """The QA loop: a request padded with filler, a tool call every third turn, an answer
    with a price and a decision, a follow-up; a context at 1,500 (reserve 300) each turn."""
    mem = Engram(str(tmp_path / "e.db"))
    s = mem.session("chat")
    s.add("system", "You are a meticulous travel assistant.")
    results = []
    for t in range(turns):
        filler = "extra detail " * (t * 7 % 41)
        request = f"Turn {t}: flights from city{t} to Lisbon on {t % 28 + 1} May, budget "
        s.add("user", f"{request}{100 + 7 * t} EUR. {filler}")
        if t % 3 == 0:
            call = {"id": f"c{t}", "type": "function"}
            call["function"] = {"name": "search", "arguments": json.dumps({"day": t})}
            s.add_messages([{"role": "assistant", "content": None, "tool_calls": [call]}])
            prices = [{"n": i, "price": 100 + i * t} for i in range(t % 15 + 1)]
            s.add_messages([{"role": "tool", "tool_call_id": f"c{t}", "content": str(prices)}])
        s.add("assistant", f"Cheapest is {100 + t} EUR. Decision: book TP{t}.")
        s.add("user", f"Ok turn {t} follow-up question: what about the return?")
        results.append(s.context(model="gpt-4o", budget=1500, reserve=300, strategy="summary"))
    return mem, results


def test_the_extractive_summary_keeps_every_folded_turn_and_no_filler(tmp_path: Path) -> None:
    mem, _ = travel_chat(tmp_path, 60)
    with mem:
        stored = mem.session("chat").summary()
        assert stored is not None
        requests = [m for m in mem.session("chat").messages() if m.text.startswith("Turn ")]
    folded = [int(m.text.split(":")[0].split()[1]) for m in requests if m.seq <= stored.through_seq]
    assert stored.tokens <= 2048 and len(folded) > 40
    # The oldest turns are not pushed out by the newest: each keeps its request.
    assert [t for t in folded if f"budget {100 + 7 * t} EUR" not in stored.text] == []
    # A phrase repeated in a row is filler, kept once where it is kept at all.
    assert "extra detail extra detail extra detail" not in stored.text
    # What it had no room for, it counts in its first line.
    first = LEFT_OUT.match(stored.text.splitlines()[0])
    assert first is not None and int(first.group(1)) > 0


def test_the_report_counts_what_the_summary_sent_keeps_nothing_of_as_dropped(
    tmp_path: Path,
) -> None:
    mem, results = travel_chat(tmp_path, 40)
    with mem:
        count = mem.session("chat").info().message_count
    result = results[-1]
    report = result.report
    sent = summary_sent(result)
    assert sent is not None
    lines = sent.splitlines()
    # A line per message kept: the many covered messages it has no room for are dropped,
    # as many as its first line says (but those sent verbatim after it).
    assert 0 < report.summarized_count < len(lines) + 2 < report.dropped_count
    assert len(report.kept) + report.summarized_count + report.dropped_count == count
    first = LEFT_OUT.match(lines[0])
    assert first is not None
    assert int(first.group(1)) - len(report.kept) <= report.dropped_count <= int(first.group(1))
    assert f"{report.dropped_count} dropped" in report.describe()


def test_the_summary_sent_does_not_repeat_the_turns_sent_after_it(tmp_path: Path) -> None:
    with Engram(str(tmp_path / "e.db")) as mem:
        s = mem.session("d")
        s.add("system", "You are a travel assistant.")
        repeating, sent = 0, 0
        for t in range(40):
            s.add(
                "user", f"Turn {t}: I want to fly to city{t} on {t % 28 + 1} May for {100 + t} EUR."
            )
            s.add("assistant", f"Booked flight TP{t} to city{t} at {100 + t} EUR. Confirmed.")
            result = s.context(model="gpt-4o", budget=600, reserve=100, strategy="summary")
            summary = summary_sent(result)
            if summary is None:
                continue
            sent += 1
            history = "\n".join(str(m["content"]) for m in history_sent(result))
            said = [line for line in summary.splitlines() if line.split(": ", 1)[-1] in history]
            repeating += bool(said)
            assert GPT4O.count_messages(result.messages) <= 500
    assert sent > 20 and repeating == 0


def test_the_history_after_the_summary_starts_on_a_user_message(tmp_path: Path) -> None:
    with Engram(str(tmp_path / "e.db")) as mem:
        s = mem.session("d")
        s.add("system", "You are a travel assistant.")
        firsts = []
        for t in range(40):
            more = "more words " * (t % 7) * 5
            s.add("user", f"Turn {t}: fly to city{t} on {t % 28 + 1} May for {100 + t} EUR. {more}")
            s.add("assistant", f"Booked TP{t} at {100 + t} EUR.")
            s.add("user", f"Thanks for turn {t}.")
            result = s.context(model="gpt-4o", budget=700, reserve=100, strategy="summary")
            if summary_sent(result) is not None:
                firsts.append(history_sent(result)[0]["role"])
        trimmed = s.context(model="gpt-4o", budget=700, reserve=100, strategy="token_budget")
    assert len(firsts) > 20 and set(firsts) == {"user"}
    assert history_sent(trimmed)[0]["role"] == "user"
