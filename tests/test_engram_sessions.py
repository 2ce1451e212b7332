"""Sessions at the facade's edge: bad input, expiry, honest context reports and racing
summaries, on SQLite and in memory."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engram import ConfigError, ConflictError, Engram, InvalidInputError, Message, NotFoundError
from engram._session_flows import _without_repeats
from engram.config import EngramSettings
from engram.context import SUMMARY_PREFIX, Recall, token_budget
from engram.context._summary import fit_summary
from engram.providers._extractive import left_out
from engram.stores import BaseConversationStore
from engram.stores.conversation import GetSummary, Op, PutSummary
from engram.stores.memory import InMemoryConversationStore
from engram.stores.memory_memories import InMemoryMemoryStore
from engram.tokens import TokenCounter
from engram.types import ContentPart, Memory, MemoryHit, ScoreParts, Summary
from servers import fresh_store
from test_context_support import WordCounter, openai_accepts, weather_call, words

pytest_plugins = ["servers"]


@pytest.fixture(params=["sqlite", "memory"])
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    store = tmp_path / "engram.db" if request.param == "sqlite" else InMemoryConversationStore()
    with Engram(store) as engram:
        yield engram


def chat(
    mem: Engram, session_id: str = "s1", count: int = 42, ttl_seconds: float | None = None
) -> Any:
    """A session of a system message and `count - 1` turns of varied length."""
    s = mem.session(session_id, ttl_seconds=ttl_seconds)
    s.add("system", "You are a travel assistant.")
    for i in range(count - 1):
        role = "user" if i % 2 == 0 else "assistant"
        s.add(role, f"Message {i} about the Lisbon trip, day {i}. " + "More detail. " * (i % 7))
    return s


# Identifiers: only None means "the default" or "a new one".


@pytest.mark.parametrize("tenant", ["", " ", "a\x00b"])
def test_an_empty_or_malformed_tenant_is_refused(tmp_path: Path, tenant: str) -> None:
    with pytest.raises(InvalidInputError, match="tenant"):
        Engram(tmp_path / "engram.db", tenant=tenant)


def test_an_empty_session_id_is_refused(mem: Engram) -> None:
    with pytest.raises(InvalidInputError, match="session id"):
        mem.session("")
    assert mem.sessions() == []
    assert mem.session(None).id  # None: a new id


# Lifetimes.


@pytest.mark.parametrize(
    "ttl", [0, -1, float("nan"), float("inf"), float("-inf"), 1e12, True, "60"], ids=repr
)
def test_a_bad_ttl_is_refused_and_writes_nothing(mem: Engram, ttl: Any) -> None:
    with pytest.raises(InvalidInputError, match="ttl_seconds"):
        mem.session("s1", ttl_seconds=ttl)
    mem.session("s2")
    with pytest.raises(InvalidInputError, match="ttl_seconds"):
        mem.session("s2", ttl_seconds=ttl)  # an existing session: still checked
    assert [s.id for s in mem.sessions()] == ["s2"]


def test_the_settings_ttl_is_the_default_and_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="session_ttl_seconds"):
        EngramSettings(session_ttl_seconds=float("inf"))
    settings = EngramSettings(session_ttl_seconds=60)
    with Engram(tmp_path / "engram.db", settings=settings) as mem:
        assert mem.session("s1").info().ttl_seconds == 60
        assert mem.session("s2", ttl_seconds=5).info().ttl_seconds == 5


def test_a_fractional_ttl_is_kept(mem: Engram) -> None:
    info = mem.session("s1", ttl_seconds=0.5).info()
    assert info.expires_at is not None
    assert info.expires_at - info.updated_at == timedelta(seconds=0.5)


def test_an_export_with_a_bad_ttl_imports_nothing(mem: Engram) -> None:
    data = mem.session("s1", ttl_seconds=60).export()
    data["session"]["ttl_seconds"] = float("nan")
    with pytest.raises(InvalidInputError, match="ttl_seconds"):
        mem.import_session(data, session_id="s2")
    assert [s.id for s in mem.sessions()] == ["s1"]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the clock of the conversation API forward."""

    def move(seconds: float) -> None:
        moment = datetime.now(UTC) + timedelta(seconds=seconds)
        monkeypatch.setattr("engram._conversation.utcnow", lambda: moment)

    return move


@pytest.mark.parametrize(
    "read",
    ["messages", "summary", "context", "summary_context", "export", "info", "state", "add"],
)
def test_an_expired_sessions_content_is_gone(mem: Engram, later: Any, read: str) -> None:
    s = chat(mem, "e", count=6, ttl_seconds=60)
    s.context("gpt-4o", budget=120, strategy="summary")
    assert s.summary() is not None
    later(120)  # the session lives 60 s after its last use
    reads = {
        "messages": lambda: s.messages(),
        "summary": lambda: s.summary(),
        "context": lambda: s.context("gpt-4o", budget=300),
        "summary_context": lambda: s.context("gpt-4o", budget=300, strategy="summary"),
        "export": lambda: s.export(),
        "info": lambda: s.info(),
        "state": lambda: s.state(),
        "add": lambda: s.add("user", "still there?"),
    }
    with pytest.raises(NotFoundError):
        reads[read]()


@pytest.mark.parametrize("read", ["messages", "summary", "context"])
async def test_an_expired_sessions_content_is_gone_async(
    mem: Engram, later: Any, read: str
) -> None:
    s = await mem.asession("e", ttl_seconds=60)
    await s.aadd("user", "hello")
    later(120)
    reads = {
        "messages": s.amessages,
        "summary": s.asummary,
        "context": lambda: s.acontext("gpt-4o", budget=300),
    }
    with pytest.raises(NotFoundError):
        await reads[read]()


def test_a_deleted_sessions_messages_are_not_found(mem: Engram) -> None:
    s = mem.session("s1")
    s.add("user", "hi")
    s.delete()
    with pytest.raises(NotFoundError):
        s.messages()


# Raw Python errors become InvalidInputError, and nothing is written.


def test_created_at_takes_a_time_or_an_iso_string(mem: Engram) -> None:
    s = mem.session("s1")
    new_year = datetime(2020, 1, 1, tzinfo=UTC)
    assert s.add("user", "a", created_at="2020-01-01").created_at == new_year
    assert s.add("user", "b", created_at=datetime(2020, 1, 1)).created_at == new_year  # naive
    assert s.add_messages([{"role": "user", "content": "c", "created_at": "2020-01-01"}])
    assert [m.created_at for m in s.messages()] == [new_year] * 3


@pytest.mark.parametrize("created_at", [5, "not a date", ["2020"]], ids=repr)
def test_a_created_at_that_is_not_a_time_is_refused(mem: Engram, created_at: Any) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match="created_at"):
        s.add("user", "x", created_at=created_at)
    with pytest.raises(InvalidInputError, match="created_at"):
        s.add_messages([Message(role="user", content="y", created_at=created_at)])
    assert s.messages() == []


@pytest.mark.parametrize(
    "patch", [["a"], "a", None, {"a": object()}, {"a": float("nan")}], ids=repr
)
def test_a_state_patch_that_is_not_a_json_object_is_refused(mem: Engram, patch: Any) -> None:
    s = mem.session("s1")
    s.update_state({"kept": 1})
    with pytest.raises(InvalidInputError, match="state patch"):
        s.update_state(patch)
    assert s.state() == {"kept": 1}


@pytest.mark.parametrize("metadata", ["x", ["a"], 5], ids=repr)
def test_metadata_that_is_not_a_json_object_is_refused(mem: Engram, metadata: Any) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match="message metadata must be a mapping"):
        s.add("user", "x", metadata=metadata)
    with pytest.raises(InvalidInputError, match="message metadata must be a mapping"):
        s.add_messages([{"role": "user", "content": "y", "metadata": metadata}])
    with pytest.raises(InvalidInputError, match="session metadata must be a mapping"):
        mem.session("s2", metadata=metadata)
    assert s.messages() == [] and [session.id for session in mem.sessions()] == ["s1"]


def test_state_keys_must_be_strings_on_every_backend(mem: Engram) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError, match="has the key 1"):
        s.update_state({1: (2, 3)})
    assert s.update_state({"1": (2, 3)}) == {"1": [2, 3]}


@pytest.mark.parametrize(
    "data",
    [
        None,
        "x",
        ["format"],
        {"format": "engram.session/1", "session": None, "messages": []},
        {"format": "engram.session/1", "session": {"id": "s"}, "messages": []},
        "messages-not-mappings",
        "created-at-not-a-time",
    ],
    ids=repr,
)
def test_a_malformed_export_is_refused_and_imports_nothing(mem: Engram, data: Any) -> None:
    s = mem.session("s1")
    s.add("user", "hi")
    if data == "messages-not-mappings":
        data = s.export() | {"messages": ["a"]}
    elif data == "created-at-not-a-time":
        data = s.export()
        data["messages"][0]["created_at"] = 5
    with pytest.raises(InvalidInputError):
        mem.import_session(data, session_id="s2")
    assert [x.id for x in mem.sessions()] == ["s1"]


def test_an_import_under_an_empty_id_is_refused(mem: Engram) -> None:
    data = mem.session("s1").export()
    with pytest.raises(InvalidInputError, match="session id"):
        mem.import_session(data, session_id="")


# The context report accounts for the whole session.


@pytest.mark.parametrize(
    "options",
    [
        {"strategy": "token_budget"},
        {"strategy": "window", "last_messages": 6},
        {"strategy": "window", "last_turns": 2},
        {"strategy": "buffer"},
        {"strategy": "summary"},
    ],
    ids=lambda options: "-".join(str(value) for value in options.values()),
)
def test_the_report_counts_every_message_of_the_session(
    mem: Engram, options: dict[str, Any]
) -> None:
    s = chat(mem)
    info = s.info()
    report = s.context("gpt-4o", budget=300, **options).report
    assert report.message_count == info.message_count == 42
    assert f"of {info.message_count} messages" in report.describe()
    assert not set(report.kept) & set(report.dropped)
    everything = s.context("gpt-4o", budget=300, strategy="buffer").report
    assert report.tokens_before == everything.tokens_before  # the whole history's cost
    if options["strategy"] != "summary":
        assert report.dropped_count == info.message_count - len(report.kept)


def test_the_report_lists_only_the_dropped_messages_it_read(mem: Engram) -> None:
    s = chat(mem)
    ids = [m.id for m in s.messages()]
    report = s.context("gpt-4o", budget=300).report
    assert report.dropped_unread > 0  # a long session: the oldest were never read
    assert report.dropped_count == 42 - len(report.kept)
    read = report.dropped_unread  # the oldest non-system messages, after the system one
    assert set(report.dropped) <= set(ids[1 + read :])


def test_the_summary_report_counts_what_the_stored_summary_covers(mem: Engram) -> None:
    s = chat(mem)
    s.context("gpt-4o", budget=300, strategy="summary")  # folds the oldest
    stored = s.summary()
    assert stored is not None
    result = s.context("gpt-4o", budget=300, strategy="summary")
    report = result.report
    covered = {m.id for m in s.messages() if m.role != "system" and m.seq <= stored.through_seq}
    # The summary stands for the covered turns not sent verbatim (the newest ones fit), but
    # those its shortening for this budget keeps nothing of: it says how many, and they are
    # dropped; the older ones are counted from the summary without being read.
    sent = covered & set(report.kept)
    [summary] = [m.text.removeprefix(SUMMARY_PREFIX) for m in result.messages if m.id == "summary"]
    lost = left_out(summary)  # sent verbatim or not
    assert sent and 0 < report.dropped_count <= lost
    assert report.summarized_count + report.dropped_count == len(covered) - len(sent)
    assert report.summarized_count + report.dropped_count == stored.message_count - len(sent)
    assert 0 < report.summarized_unread + report.dropped_unread < stored.message_count
    everything = s.context("gpt-4o", budget=300, strategy="buffer").report
    assert report.tokens_before == everything.tokens_before  # the history's, not the summary's
    assert report.message_count == 42
    assert f"{report.summarized_count} summarized" in report.describe()


# Recall: the user's profile and memories in the same budget as the conversation.


@pytest.fixture(params=["sqlite", "memory"])
def recalling(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engram]:
    """An Engram that keeps long-term memories too (the `mem` fixture's in-memory one does
    not)."""
    if request.param == "sqlite":
        engram = Engram(tmp_path / "engram.db")
    else:
        engram = Engram(InMemoryConversationStore(), memory_store=InMemoryMemoryStore())
    with engram:
        yield engram


def remembering(mem: Engram, *facts: str) -> Any:
    """A session of the user `ana`, who told `facts` earlier, opening with a system message."""
    for fact in facts:
        mem.memories.add(fact, user_id="ana", infer=False)
    s = mem.session("s1", user_id="ana")
    s.add("system", "You are helpful.", id="rules")
    return s


@pytest.mark.parametrize("strategy", ["token_budget", "summary"])
def test_a_recall_context_reports_the_budget_it_was_given(recalling: Engram, strategy: str) -> None:
    facts = [f"Fact {i}: I like hiking trail {i} near Chamonix." for i in range(8)]
    s = remembering(recalling, *facts)
    for i in range(40):
        s.add("user", f"Tell me about hiking day {i} " + "please " * 20)
        s.add("assistant", f"Day {i} was sunny. " + "ok " * 20)
    s.add("user", "Which trail should I hike?")
    result = s.context("gpt-4o", budget=1000, reserve=100, recall=8, strategy=strategy)
    report = result.report
    assert report.recalled and report.memory_tokens > 0
    assert (report.budget, report.reserve) == (1000, 100)
    assert report.tokens_after <= report.budget - report.reserve
    assert report.tokens_after == TokenCounter.for_model("gpt-4o").count_messages(result.messages)
    assert "(budget 1,000, reserve 100)" in report.describe()


def test_one_long_profile_field_leaves_the_rest_of_the_recall_block(recalling: Engram) -> None:
    s = remembering(recalling, "I am allergic to peanuts.", "My favourite food is sushi.")
    notes = "Prefers short answers. " * 60
    recalling.memories.update_profile("ana", {"name": "Ana", "diet": "vegetarian", "notes": notes})
    s.add("user", "What food should I avoid?")
    result = s.context("gpt-4o", budget=1000, recall=3)
    [block] = [m for m in result.messages if m.id == "memories"]
    assert "- name: Ana" in block.text and "- diet: vegetarian" in block.text
    assert "peanuts" in block.text and "Prefers short answers" not in block.text
    assert len(result.report.recalled) == 2
    assert result.report.profile_dropped == ("notes",)
    assert "left out: 1 profile field" in result.report.describe()


def test_memories_give_way_before_the_newest_user_message_is_cut(recalling: Engram) -> None:
    s = remembering(
        recalling,
        "I enjoy Agatha Christie detective novels.",
        "I read detective novels on rainy weekends.",
        "My favourite detective is Hercule Poirot.",
    )
    words = " ".join(f"word{i}" for i in range(400))
    question = s.add("user", f"Please recommend detective novels. {words}")
    whole = s.context("gpt-4o", budget=10_000).report.tokens_after
    recalled = []
    for budget in range(whole - 5, whole + 60, 5):
        alone = s.context("gpt-4o", budget=budget).report
        report = s.context("gpt-4o", budget=budget, recall=3).report
        assert report.truncated == alone.truncated == (() if budget >= whole else (question.id,))
        recalled.append(len(report.recalled))
    assert recalled[:2] == [0, 0] and recalled == sorted(recalled) and recalled[-1] == 3


def test_the_recall_block_never_takes_a_message_id(recalling: Engram) -> None:
    s = remembering(recalling, "I am allergic to peanuts.")
    s.add("user", "Any snack ideas?", id="memories")
    result = s.context("gpt-4o", recall=2)
    ids = [m.id for m in result.messages]
    assert len(set(ids)) == len(ids) == 3
    assert result.report.kept == ("rules", "memories")
    [block] = [m for m in result.messages if m.id not in result.report.kept]
    assert "peanuts" in block.text and result.report.recalled


def test_recall_does_not_repeat_what_the_prompt_says(recalling: Engram) -> None:
    earlier = recalling.session("s0", user_id="ana")
    said = [earlier.add("user", "My dog Rex loves the beach.")]
    recalling.memories.add(messages=said, user_id="ana")
    s = remembering(recalling)
    for text in ["I'm vegetarian.", "Rex is scared of cats."]:
        recalling.memories.add(messages=[s.add("user", text)], user_id="ana")
        s.add("assistant", "Noted!")
    question = s.add("user", "Any dinner idea for me and Rex tonight?")
    recalling.memories.add(messages=[question], user_id="ana")
    result = s.context("gpt-4o", budget=4000, recall=2)
    sent = {m.id for m in result.messages}
    [block] = [m for m in result.messages if m.id == "memories"]
    assert "- diet: vegetarian" in block.text and "The user is vegetarian" not in block.text
    assert "loves the beach" in block.text  # told in another session: not in the prompt
    recalled = [recalling.memories.get(i) for i in result.report.recalled]
    assert recalled and len(recalled) <= 2
    assert not any(set(memory.source_ids) <= sent for memory in recalled)
    # Once the history no longer holds a turn, what it said is recalled again.
    for i in range(30):
        s.add("user", f"Tell me about beach day {i} " + "please " * 20)
        s.add("assistant", f"Day {i} was sunny. " + "ok " * 20)
    s.add("user", "Is Rex scared of anything?")
    tight = s.context("gpt-4o", budget=600, recall=3)
    [block] = [m for m in tight.messages if m.id == "memories"]
    assert "scared of cats" in block.text
    assert not any("scared of cats" in m.text for m in tight.messages if m.id != "memories")


def test_a_repeat_too_long_for_the_block_is_not_reported_left_out(recalling: Engram) -> None:
    """The newest user message's episode only repeats the prompt: whether or not it would
    fit in the block, it gives its place to the next memory and is not `recall_dropped`."""
    earlier = recalling.session("s0", user_id="ana")
    beach = earlier.add("user", "My dog Rex loves the beach.")
    recalling.memories.add(messages=[beach], user_id="ana")
    s = remembering(recalling)
    plans = " ".join(f"plan{i}" for i in range(400))
    question = s.add("user", f"Where should I take my dog Rex this weekend? {plans}")
    [episode] = recalling.memories.add(messages=[question], user_id="ana").added
    result = s.context("gpt-4o", budget=1000, recall=1)
    assert episode.id not in result.report.recall_dropped
    assert result.report.recall_dropped == () and "left out" not in result.report.describe()
    [block] = [m for m in result.messages if m.id == "memories"]
    assert "loves the beach" in block.text


def test_a_memory_set_aside_as_a_repeat_comes_back_when_its_message_is_dropped() -> None:
    """r1 and r2 repeat u1 and u2, so r3 and r4 take their places; their longer block pushes
    u1 out, and r1, which no longer repeats anything, is offered again (not lost)."""

    def remembered(memory_id: str, text: str, *sources: str) -> MemoryHit:
        memory = Memory(text=text, id=memory_id, source_ids=sources)
        return MemoryHit(memory, 1.0, ScoreParts(), 1)

    messages = [
        Message(role="system", content="be brief", id="s"),
        Message(role="user", content=words(5), id="u1"),
        Message(role="user", content=words(5), id="u2"),
        Message(role="user", content=words(10), id="u3"),
    ]
    hits = (
        remembered("r1", "a b", "u1"),
        remembered("r2", "c d", "u2"),
        remembered("r3", words(10, "x")),
        remembered("r4", words(6, "y")),
    )
    counter = WordCounter()
    fit = functools.partial(token_budget, messages, counter, budget=60)
    result = _without_repeats(fit, Recall(100, hits), 2)
    assert [m.id for m in result.messages] == ["s", "memories", "u2", "u3"]
    assert (result.report.recalled, result.report.dropped) == (("r1", "r3"), ("u1",))
    assert result.report.tokens_after == counter.count_messages(result.messages) <= 60


def test_summary_plans_room_for_the_memories_recall_sends_not_twice_as_many(
    recalling: Engram,
) -> None:
    """Recall searches twice the memories asked (some may repeat the prompt); the summary
    plan leaves room for the `recall` it may send, so it folds nothing that fits with them."""
    facts = [f"Rex likes trail number {i} in the park near the river." for i in range(8)]
    s = remembering(recalling, *facts)
    for i in range(13):
        s.add("user", f"Tell me about walk {i} " + "please " * 10)
        s.add("assistant", f"Walk {i} was fine. " + "ok " * 10)
    s.add("user", "Which trail does Rex like?")
    report = s.context("gpt-4o", budget=800, recall=4, strategy="summary").report
    assert len(report.recalled) == 4
    assert report.tokens_after <= 0.8 * 800  # with the memories, under the trigger
    assert (report.summarized_count, report.dropped_count, s.summary()) == (0, 0, None)


# Two contexts folding the summary of one session at once.


class RacingSummaries(BaseConversationStore):
    """Holds each thread's first summary write until `parties` threads are about to write
    theirs: all of them have read the same (absent) summary, so all but one lose the race."""

    def __init__(self, inner: BaseConversationStore, parties: int) -> None:
        self.inner = inner
        self.ready = threading.Barrier(parties, timeout=30)
        self.held = threading.local()
        self.conflicts = 0
        self.summary_reads = 0
        self._lock = threading.Lock()

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        if any(isinstance(op, PutSummary) for op in ops) and not getattr(self.held, "once", 0):
            self.held.once = 1
            self.ready.wait()
        with self._lock:
            self.summary_reads += sum(isinstance(op, GetSummary) for op in ops)
        try:
            return self.inner.batch(ops)
        except ConflictError:
            with self._lock:
                self.conflicts += 1
            raise

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return self.batch(ops)


@pytest.fixture(params=["sqlite-file", "memory", "postgres", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BaseConversationStore]:
    """Each backend's conversation store (the servers only for their own params)."""
    with fresh_store(request, tmp_path, "ConversationStore") as store:
        yield store


@pytest.mark.parametrize("parties", [2, 3])
def test_racing_summary_contexts_never_conflict(
    backend: BaseConversationStore, parties: int
) -> None:
    """Engrams that share no locks (as processes on a store without a cross-process hold)
    fold at once: the losers' stores conflict, quietly, and they use the winner's summary.
    (One Engram's contexts take turns: `test_summary_concurrency`.)"""
    racing = RacingSummaries(backend, parties)
    with ExitStack() as stack:
        engrams = [stack.enter_context(Engram(racing)) for _ in range(parties)]
        s = chat(engrams[0], count=60)
        results: list[Any] = []
        errors: list[BaseException] = []

        def build(mem: Engram) -> None:
            try:
                session = mem.session(s.id)
                results.append(session.context("gpt-4o", budget=300, strategy="summary"))
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        threads = [threading.Thread(target=build, args=(mem,)) for mem in engrams]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert racing.conflicts == parties - 1  # the race happened, and was lost quietly
        # Each read the summary before and after its turn; each loser read the winner's.
        assert racing.summary_reads == 3 * parties - 1
        stored = s.summary()
        assert stored is not None
        assert stored.message_count == stored.through_seq - 1  # each message folded once
        # The losers used the winner's summary, each shortened to the budget's room (a
        # quarter of it: the stored summary is kept at the largest size asked for).
        # It leaves out what the covered turns sent verbatim after it say.
        for result in results:
            covered = [m for m in result.messages if 0 < (m.seq or 0) <= stored.through_seq]
            shortened = fit_summary(
                stored.text, TokenCounter.for_model("gpt-4o"), 75, besides=covered
            )
            assert result.report.tokens_after <= 300
            assert any(m.text == SUMMARY_PREFIX + shortened for m in result.messages)


class AlwaysOutrun(BaseConversationStore):
    """Before each summary write, another writer stores a summary one message further."""

    def __init__(self, inner: BaseConversationStore) -> None:
        self.inner = inner
        self.writes = 0

    def batch(self, ops: Sequence[Op]) -> list[Any]:
        for op in ops:
            if isinstance(op, PutSummary):
                self.writes += 1
                further = (op.expected_through_seq or 1) + 1
                theirs = Summary(op.summary.session_id, "theirs", further)
                self.inner.batch([PutSummary(op.tenant, theirs, op.expected_through_seq)])
        return self.inner.batch(ops)

    async def abatch(self, ops: Sequence[Op]) -> list[Any]:
        return self.batch(ops)


async def test_a_context_that_keeps_losing_the_race_still_answers(
    backend: BaseConversationStore,
) -> None:
    outrun = AlwaysOutrun(backend)
    with Engram(outrun) as mem:
        s = chat(mem, count=60)
        result = s.context("gpt-4o", budget=300, strategy="summary")
        assert outrun.writes == 3  # bounded: then it sends the summary it made, unstored
        assert result.report.summary_tokens > 0 and result.report.tokens_after <= 300
        assert (await s.acontext("gpt-4o", budget=300, strategy="summary")).report.summary_tokens
        assert outrun.writes == 6


def test_an_import_counts_tokens_again_whatever_the_file_says(mem: Engram) -> None:
    """The budget of every context rests on the stored counts: an export cannot set them."""
    s = chat(mem)
    data = s.export()
    for message in data["messages"]:
        message["tokens"] = 1
    copy = mem.import_session(data, session_id="copy")
    assert copy.info().token_count == s.info().token_count
    sent = copy.context("gpt-4o", budget=300)
    assert sent.report.tokens_after == s.context("gpt-4o", budget=300).report.tokens_after
    assert sent.report.tokens_after <= 300


def test_an_import_with_a_summary_without_text_is_refused(mem: Engram) -> None:
    s = chat(mem)
    s.context("gpt-4o", budget=300, strategy="summary")  # stores a summary
    data = s.export()
    data["summary"]["text"] = None
    with pytest.raises(InvalidInputError, match="summary"):
        mem.import_session(data, session_id="copy")
    assert [info.id for info in mem.sessions()] == [s.id]


def _tool_with_enum(enum: Any) -> dict[str, Any]:
    parameters = {"properties": {"unit": {"type": "string", "enum": enum}}}
    return {"type": "function", "function": {"name": "lookup", "parameters": parameters}}


@pytest.mark.parametrize(
    "options",
    [
        {"model": None, "budget": 100},
        {"model": "gpt-4o", "budget": True},
        {"model": "gpt-4o", "budget": 100, "reserve": True},
        {"model": "gpt-4o", "budget": 100, "tools": "lookup"},
        {"model": "gpt-4o", "budget": 100, "tools": {"name": "lookup"}},
        {"model": "gpt-4o", "strategy": "window", "last_messages": "3"},
        {"model": "gpt-4o", "strategy": "window", "last_turns": "2"},
        {"model": "gpt-4o", "strategy": "window", "last_messages": 2.5},
        {"model": "gpt-4o", "strategy": "window", "last_turns": True},
        {"model": "gpt-4o", "budget": 100, "recall": 1.5},
        {"model": "gpt-4o", "budget": 100, "tools": [_tool_with_enum(5)]},
    ],
    ids=[
        "no-model",
        "bool-budget",
        "bool-reserve",
        "str-tools",
        "dict-tools",
        "str-window",
        "str-turns",
        "float-window",
        "bool-turns",
        "float-recall",
        "int-enum",
    ],
)
def test_bad_context_options_are_invalid_input(mem: Engram, options: dict[str, Any]) -> None:
    s = chat(mem)
    with pytest.raises(InvalidInputError):
        s.context(**options)


def test_no_tools_may_be_said_with_none(mem: Engram) -> None:
    s = chat(mem)
    without = s.context("gpt-4o", budget=300, tools=None).report
    assert without.tokens_after == s.context("gpt-4o", budget=300).report.tokens_after


def test_an_expired_export_is_restored_to_live_its_ttl_from_the_import(mem: Engram) -> None:
    s = mem.session("ex1", ttl_seconds=60)
    s.add("user", "hi")
    data = s.export()
    data["session"]["updated_at"] = "2019-12-31T23:59:00+00:00"
    data["session"]["expires_at"] = "2020-01-01T00:00:00+00:00"  # long expired
    s.delete()
    restored = mem.import_session(data)
    info = restored.info()
    assert info.expires_at is not None and info.expires_at > datetime.now(UTC)
    assert [m.text for m in restored.messages()] == ["hi"]


# Content parts: any well-formed part is kept as given; a malformed one is invalid input.

STANDARD_PARTS: list[dict[str, Any]] = [
    {"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}},  # Anthropic
    {"type": "text", "text": "See", "annotations": [{"type": "url_citation", "url": "u"}]},
    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    {"type": "file", "file": {"file_id": "file-1"}},
    {"type": "refusal", "refusal": "I can't help with that."},  # OpenAI assistant refusal
    {"type": "thinking", "thinking": "hmm", "signature": "abc"},  # Anthropic
    {"type": "redacted_thinking", "data": "EmwKAhgB"},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "why"}]},
    {"type": "input_text", "text": "Responses API"},
    {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}},
    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, None]}},
]


def test_every_standard_content_part_round_trips(backend: BaseConversationStore) -> None:
    with Engram(backend) as mem:
        s = mem.session("s1")
        for part in STANDARD_PARTS:
            s.add("assistant", [part])
        stored = s.messages()
    assert [[p.to_openai() for p in m.content] for m in stored] == [[p] for p in STANDARD_PARTS]
    assert [m.content for m in stored] == [
        (ContentPart.from_openai(part),) for part in STANDARD_PARTS
    ]


@pytest.mark.parametrize(
    "part",
    [{"type": "text"}, {"type": "text", "text": 5}, {"type": ""}, {"text": "no type"}, "text"],
)
def test_a_malformed_content_part_is_invalid_input(mem: Engram, part: Any) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError):
        s.add("user", [part])
    with pytest.raises(InvalidInputError):
        s.add_messages([{"role": "user", "content": [part]}])
    assert s.messages() == []


def test_a_stored_part_is_a_copy_of_the_callers(mem: Engram) -> None:
    part = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "a"}]}
    s = mem.session("s1")
    s.add("assistant", [part])
    part["summary"][0]["text"] = "changed"
    [stored] = s.messages()
    assert stored.to_dict()["content"][0]["summary"][0]["text"] == "a"


def test_a_context_counts_as_recalled_only_the_memories_it_sends(recalling: Engram) -> None:
    s = remembering(recalling, "I am allergic to peanuts.", "I am allergic to shellfish.")
    question = s.add("user", "What am I allergic to?")
    recalling.memories.add(messages=[question], user_id="ana")  # its episode repeats it
    result = s.context("gpt-4o", recall=1)
    [sent] = result.report.recalled
    counts = {m.id: m.access_count for m in recalling.memories.get_all(user_id="ana")}
    assert counts.pop(sent) == 1
    assert set(counts.values()) == {0}  # searched, not sent: not recalled


# Tool calls: given in OpenAI's form, stored as it is sent.


@pytest.mark.parametrize(
    "tool_calls",
    [
        "lookup",
        [{"function": {"name": "lookup", "arguments": "{}"}}],
        [{"id": "c1", "function": "f"}],
    ],
    ids=["a-string", "no-id", "function-not-a-dict"],
)
def test_a_malformed_tool_call_is_invalid_input(mem: Engram, tool_calls: Any) -> None:
    s = mem.session("s1")
    with pytest.raises(InvalidInputError):
        s.add("assistant", "", tool_calls=tool_calls)
    assert s.messages() == []


def test_tool_call_arguments_given_as_a_dict_are_sent_as_json(mem: Engram) -> None:
    s = mem.session("s1")
    call = {"id": "c1", "function": {"name": "book", "arguments": {"city": "Lisboa", "n": 2}}}
    s.add("assistant", "", tool_calls=[call])
    [sent] = s.messages()[0].to_openai()["tool_calls"]
    assert sent["function"]["arguments"] == '{"city": "Lisboa", "n": 2}'


# A context reads a tail of the session: one that starts inside a tool-call group reads on
# back to the call, so its results are never sent without it.


def _one_call_of_many_tools(mem: Engram, results: int) -> Any:
    s = mem.session("loop")
    s.add("system", "You run searches.")
    s.add("user", "Run every search.")
    calls = [{"id": f"c{i}", "function": {"name": "search"}} for i in range(results)]
    s.add("assistant", "", tool_calls=calls)
    s.add_messages(
        [
            {"role": "tool", "content": f"result {i} " * 40, "tool_call_id": f"c{i}"}
            for i in range(results)
        ]
    )
    return s


def test_a_budget_that_keeps_part_of_a_tool_group_sends_its_call(mem: Engram) -> None:
    s = _one_call_of_many_tools(mem, 30)
    result = s.context("gpt-4o", budget=1500)
    assert [m.role for m in result.messages[:3]] == ["system", "user", "assistant"]
    assert len(result.messages) == 33
    assert result.report.tokens_after <= 1500


def test_a_window_inside_a_large_tool_group_keeps_the_whole_group(mem: Engram) -> None:
    s = _one_call_of_many_tools(mem, 30)
    result = s.context("gpt-4o", strategy="window", last_messages=3)
    assert [m.role for m in result.messages[:2]] == ["system", "assistant"]
    assert len(result.messages) == 32


@pytest.mark.parametrize(
    ("strategy", "options"),
    [("buffer", {}), ("window", {"last_turns": 1}), ("token_budget", {}), ("summary", {})],
)
def test_the_report_names_the_strategy_asked_for(
    mem: Engram, strategy: str, options: dict[str, Any]
) -> None:
    """(was: `summary` reported itself as `summary_buffer`, a name no option takes)"""
    s = mem.session("s1")
    s.add("user", "Hello")
    report = s.context("gpt-4o", budget=2000, strategy=strategy, **options).report
    assert report.strategy == strategy
    assert report.describe().startswith(f"{strategy}: kept")


@pytest.mark.parametrize("strategy", ["buffer", "token_budget", "summary"])
def test_a_context_sends_each_call_with_its_results_and_none_abandoned(
    mem: Engram, strategy: str
) -> None:
    s = mem.session("s1")
    s.add("system", "You are a travel assistant.")
    s.add("user", "Weather in Paris?")
    s.add("assistant", "", tool_calls=[weather_call("c1", "Paris")])
    s.add("system", "Be brief.")  # said while the call ran
    s.add("tool", '{"celsius": 20}', tool_call_id="c1")
    s.add("user", "And in Rome?")
    s.add("assistant", "Checking Rome.", tool_calls=[weather_call("c2", "Rome")])
    s.add("user", "Never mind.")  # c2 is never answered
    s.add("assistant", "", tool_calls=[weather_call("c3", "Oslo")])  # pending: the newest
    sent = s.context("gpt-4o", budget=2000, strategy=strategy).to_openai()
    assert openai_accepts(sent) and sent[-1]["role"] == "user"  # c3 waits for its result
    assert [m["role"] for m in sent[:6]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "system",
        "user",
    ]
    assert sent[6] == {"role": "assistant", "content": "Checking Rome."}  # its text, no call
    s.add("user", "Thanks, that's all.")  # now c3 is abandoned too: its empty message goes
    result = s.context("gpt-4o", budget=2000, strategy=strategy)
    sent = result.to_openai()
    assert openai_accepts(sent) and [m["role"] for m in sent[-2:]] == ["user", "user"]
    assert result.report.tokens_after == TokenCounter.for_model("gpt-4o").count_messages(
        list(result.messages)
    )


# Counts made with other chat-format overheads are counted again, not reused.


def test_a_legacy_chat_format_context_stays_within_its_budget(tmp_path: Path) -> None:
    settings = EngramSettings(encoding="cl100k_base")
    with Engram(tmp_path / "e.db", settings=settings) as mem:
        s = mem.session("s1")
        for i in range(40):
            s.add("user" if i % 2 == 0 else "assistant", f"message {i}")
        result = s.context("gpt-3.5-turbo-0301", budget=200)
    counted = TokenCounter.for_model("gpt-3.5-turbo-0301").count_messages(list(result.messages))
    assert counted == result.report.tokens_after
    assert counted <= 200


@pytest.mark.parametrize("one", [{"role": "user", "content": "hi"}, Message("user", "hi"), "hi"])
def test_add_messages_of_one_message_asks_for_a_list_and_writes_nothing(
    tmp_path: Path, one: Any
) -> None:
    with Engram(tmp_path / "e.db") as mem:
        s = mem.session("s1")
        with pytest.raises(InvalidInputError, match="takes a list of messages"):
            s.add_messages(one)
        assert s.messages() == []


def test_a_flat_tool_call_keeps_its_function_name_and_arguments(tmp_path: Path) -> None:
    """`{"id", "name", "arguments"}` (no nested `function`) is read as OpenAI's form is: a
    call stored without its name would be sent back as one no chat API takes."""
    with Engram(tmp_path / "e.db") as mem:
        s = mem.session("s1")
        s.add("user", "Weather in Paris?")
        flat = {"id": "c1", "name": "weather", "arguments": '{"city": "Paris"}'}
        s.add("assistant", "", tool_calls=[flat])
        [call] = s.messages()[-1].tool_calls
        assert (call.name, call.arguments) == ("weather", '{"city": "Paris"}')
        s.add("tool", "18 C", tool_call_id="c1")
        sent = s.context(model="gpt-4o", budget=1000).to_openai()
        assert sent[1]["tool_calls"][0]["function"]["name"] == "weather"
