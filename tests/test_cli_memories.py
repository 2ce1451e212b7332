"""`engram memories`: list, search, history, delete, consolidate and reembed, on a real SQLite
file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engram import Engram
from engram.cli import main
from engram.memory import ForgettingPolicy
from engram.stores.memories import VectorRecord
from engram.types._memory import Memory
from openai_server import FakeOpenAIServer, ReceivedRequest, ScriptedResponse, embeddings_body

pytest_plugins = ["openai_server"]

TEXTS = {
    "m-short": ("Ana is vegetarian", 0.9),
    "m-long": ("Ana is vegetarian and has been for years", 0.4),
    "m-city": ("Ana lives in Lisbon near the river", 0.5),
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    """Three memories of ana, two of them near-duplicates, stored without revision (so the
    duplicates stay, as after a bulk import)."""
    path = str(tmp_path / "memories.db")
    with Engram(path) as mem:
        vectors = mem.embedder.embed([text for text, _ in TEXTS.values()])
        vectors[1] = vectors[0] + 0.01 * vectors[1]  # a near-duplicate of "Ana is vegetarian"
        memories = [
            Memory(text, id=memory_id, user_id="ana", tenant=mem.tenant, importance=importance)
            for memory_id, (text, importance) in TEXTS.items()
        ]
        records = [VectorRecord(mem.embedding_model_id, row) for row in vectors]
        mem.resources.memory_store().put_memories(mem.tenant, memories, vectors=records)
    return path


def test_list_and_search(runner: CliRunner, db: str) -> None:
    listed = runner.invoke(main, ["memories", "list", "--db", db, "--user", "ana"])
    assert listed.exit_code == 0, listed.output
    assert "m-city" in listed.output and "m-short" in listed.output
    found = runner.invoke(main, ["memories", "search", "--db", db, "--user", "ana", "Lisbon"])
    assert found.exit_code == 0, found.output
    first_row = next(line for line in found.output.splitlines() if line.strip().startswith("│ 1"))
    assert "m-city" in first_row
    nobody = runner.invoke(main, ["memories", "list", "--db", db, "--user", "bob"])
    assert "no memories" in nobody.output
    with Engram(db) as mem:  # an inspection is no recall: forgetting and decay see none
        assert {m.access_count for m in mem.memories.get_all(user_id="ana")} == {0}


def test_consolidate_merges_and_reports_bloat(runner: CliRunner, db: str) -> None:
    result = runner.invoke(main, ["memories", "consolidate", "--db", db, "--user", "ana"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "ana" in line)
    assert [cell.strip() for cell in row.split("│")[2:5]] == ["1", "33.3%", "0.0%"]
    with Engram(db) as mem:
        kept = mem.memories.get("m-short")  # the more important one is kept
        assert kept.text == "Ana is vegetarian and has been for years"  # the longer text
        assert {m.id for m in mem.memories.get_all(user_id="ana")} == {"m-short", "m-city"}
        # It keeps a vector (the one of the text it took), so dense search still finds it.
        store = mem.resources.memory_store()
        [vector] = store.get_vectors(mem.tenant, ["m-short"], mem.embedding_model_id)
        assert vector is not None
        expected = mem.embedder.embed([TEXTS["m-short"][0]])[0]
        assert float(np.dot(vector, expected)) > 0.99
        assert [c.action for c in mem.memories.history("m-short")][-1] == "merge"


def test_history_and_delete(runner: CliRunner, db: str) -> None:
    deleted = runner.invoke(main, ["memories", "delete", "--db", db, "m-city"])
    assert deleted.exit_code == 0, deleted.output
    assert "deleted m-city: 1 vector(s)" in deleted.output
    shown = runner.invoke(main, ["memories", "history", "--db", db, "m-city"])
    assert shown.exit_code == 0 and "delete" in shown.output
    assert "Lisbon" not in shown.output  # erased text does not survive in the history
    again = runner.invoke(main, ["memories", "delete", "--db", db, "m-city"])
    assert again.exit_code == 1 and "NotFoundError" in again.output


def test_missing_database_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "none.db")
    result = runner.invoke(main, ["memories", "list", "--db", missing, "--user", "ana"])
    assert result.exit_code == 1 and "no database" in result.output
    assert not Path(missing).exists()


def test_bloat_by_kind(db: str) -> None:
    with Engram(db) as mem:
        assert abs(mem.memories.bloat(user_id="ana") - 1 / 3) < 1e-9
        assert mem.memories.bloat(user_id="ana", kinds=["episode"]) == 0.0
        assert mem.memories.bloat(user_id="nobody") == 0.0


def test_reembed_embeds_what_another_model_embedded(runner: CliRunner, tmp_path: Path) -> None:
    path = str(tmp_path / "other-model.db")
    with Engram(path) as mem:
        vectors = [VectorRecord("another/model:backend", row) for row in np.eye(3, 8)]
        memories = [Memory(text, user_id="ana", tenant=mem.tenant) for text, _ in TEXTS.values()]
        mem.resources.memory_store().put_memories(mem.tenant, memories, vectors=vectors)
    first = runner.invoke(main, ["memories", "reembed", "--db", path])
    assert first.exit_code == 0, first.output
    said = " ".join(first.output.split())  # the console wraps long lines
    assert "embedded 3 memories with sentence-transformers/all-MiniLM-L6-v2" in said
    again = runner.invoke(main, ["memories", "reembed", "--db", path, "--user", "ana"])
    assert "embedded 0 memories" in again.output


def test_export_then_import_into_a_new_database(runner: CliRunner, db: str, tmp_path: Path) -> None:
    exported = tmp_path / "ana.json"
    result = runner.invoke(
        main, ["memories", "export", "--db", db, "--user", "ana", "-o", exported]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "exported 3 memories of user 'ana'\n"
    fresh = str(tmp_path / "fresh.db")
    imported = runner.invoke(main, ["memories", "import", "--db", fresh, str(exported)])
    assert imported.exit_code == 0, imported.output
    assert "imported 3 memories" in imported.output
    listed = runner.invoke(main, ["memories", "list", "--db", fresh, "--user", "ana"])
    assert all(memory_id in listed.output for memory_id in TEXTS)
    (tmp_path / "bad.json").write_text('{"format": "engram.memories/1", "memories": 3}')
    bad = runner.invoke(main, ["memories", "import", "--db", fresh, str(tmp_path / "bad.json")])
    assert bad.exit_code != 0 and "malformed memory export" in bad.output
    typo = str(tmp_path / "typo.db")
    refused = runner.invoke(main, ["memories", "import", "--db", typo, str(tmp_path / "bad.json")])
    assert refused.exit_code != 0 and not Path(typo).exists()  # refused before creating it


def test_a_failed_import_leaves_no_new_database(runner: CliRunner, db: str, tmp_path: Path) -> None:
    exported = tmp_path / "ana.json"
    runner.invoke(main, ["memories", "export", "--db", db, "--user", "ana", "-o", exported])
    env = {
        "ENGRAM_EMBEDDINGS__BASE_URL": "http://127.0.0.1:1/v1",
        "ENGRAM_EMBEDDINGS__MODEL": "emb",
        "ENGRAM_EMBEDDINGS__MAX_RETRIES": "0",
    }
    files = sorted(tmp_path.rglob("*"))
    before = Path(db).read_bytes()
    fresh = str(tmp_path / "new" / "fresh.db")
    for target, memory_db in ((fresh, None), (db, str(tmp_path / "mem" / "m.db")), (db, None)):
        result = runner.invoke(
            main,
            ["memories", "import", "--db", target, str(exported)],
            env=env | ({"ENGRAM_MEMORY_DB": memory_db} if memory_db else {}),
        )
        assert result.exit_code == 1 and "ProviderUnavailable" in result.output, result.output
        assert sorted(tmp_path.rglob("*")) == files  # no new file, nor directory
    assert Path(db).read_bytes() == before  # an existing database is left as it was


def test_entities_and_profile(runner: CliRunner, tmp_path: Path) -> None:
    path = str(tmp_path / "ana.db")
    with Engram(path) as mem:
        said = "I work at Siemens. My partner is Tomás."
        mem.memories.add(said, user_id="ana", user_name="Ana")
    listed = runner.invoke(main, ["memories", "entities", "--db", path, "--user", "ana"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "Ana" in line or "│      " in line]
    assert any("works_at Siemens" in row for row in rows)
    assert any("partner_of Tomás" in row for row in rows)
    named = runner.invoke(
        main, ["memories", "entities", "--db", path, "--user", "ana"] + ["--name", "Ana"]
    )
    assert named.exit_code == 0, named.output
    assert "works_at Siemens" in named.output  # the target by name, not by id
    assert "Tomás" in named.output and "01a" not in named.output
    partner = runner.invoke(
        main, ["memories", "entities", "--db", path, "--user", "ana"] + ["--name", "Tomás"]
    )
    assert partner.exit_code == 0, partner.output
    assert "Ana partner_of it" in partner.output  # a relation to it, not only its own
    shown = runner.invoke(main, ["memories", "profile", "--db", path, "--user", "ana"])
    assert "employer" in shown.output and "Siemens" in shown.output
    edited = runner.invoke(
        main,
        ["memories", "profile", "--db", path, "--user", "ana"]
        + ["--set", "diet=vegan", "--unset", "employer"],
    )
    assert edited.exit_code == 0, edited.output
    assert "vegan" in edited.output and "edited" in edited.output
    assert "employer" not in edited.output
    bad = runner.invoke(main, ["memories", "profile", "--db", path, "--user", "ana", "--set", "x"])
    assert bad.exit_code != 0 and "FIELD=VALUE" in bad.output
    typo = ["--set", "diet=raw", "--unset", "employr"]  # a typo: nothing is written
    refused = runner.invoke(main, ["memories", "profile", "--db", path, "--user", "ana", *typo])
    assert refused.exit_code != 0 and "no profile field" in refused.output
    with Engram(path) as mem:
        assert mem.memories.profile("ana").fields["diet"] == "vegan"


async def test_async_twins_of_the_maintenance_jobs(db: str) -> None:
    with Engram(db) as mem:
        assert await mem.memories.abloat(user_id="ana") == pytest.approx(1 / 3)
        assert await mem.memories.aconsolidate(user_id="ana") == 1
        assert await mem.memories.abloat(user_id="ana") == 0.0
        assert await mem.memories.areembed(user_id="ana") == 0  # every one has its vector
        report = await mem.memories.aforget(ForgettingPolicy(max_per_user=1), user_id="ana")
        assert report is not None and report.memories == 1
        assert len(await mem.memories.aget_all(user_id="ana")) == 1


def test_forget_dry_run_lists_then_forget_erases(runner: CliRunner, db: str) -> None:
    command = ["memories", "forget", "--db", db, "--user", "ana", "--max-per-user", "1"]
    planned = runner.invoke(main, [*command, "--dry-run"], terminal_width=200)
    assert planned.exit_code == 0, planned.output
    rows = [line for line in planned.output.splitlines() if "max_per_user" in line]
    assert len(rows) == 2 and not any("m-short" in row for row in rows)  # most important kept
    with Engram(db) as mem:
        assert len(mem.memories.get_all(user_id="ana")) == 3  # the dry run erased nothing
    erased = runner.invoke(main, command)
    assert erased.exit_code == 0, erased.output
    row = next(line for line in erased.output.splitlines() if "ana" in line)
    assert [cell.strip() for cell in row.split("│")[1:3]] == ["ana", "2"]
    with Engram(db) as mem:
        assert [m.id for m in mem.memories.get_all(user_id="ana")] == ["m-short"]
        assert [c.action for c in mem.memories.history("m-city")][-1] == "delete"
    fresh = runner.invoke(
        main, ["memories", "forget", "--db", db, "--user", "ana", "--max-age", "1d"]
    )
    assert fresh.exit_code == 0 and "m-short" not in fresh.output  # recorded just now: kept
    with Engram(db) as mem:
        assert [m.id for m in mem.memories.get_all(user_id="ana")] == ["m-short"]


def test_jobs_over_every_user(runner: CliRunner, db: str) -> None:
    with Engram(db) as mem:
        mem.memories.add("Bo plays the cello", user_id="bo", infer=False)
        mem.memories.add("An agent note", agent_id="planner", infer=False)  # no user
    listed = runner.invoke(main, ["memories", "users", "--db", db])
    assert listed.exit_code == 0 and listed.output.split() == ["ana", "bo"]
    merged = runner.invoke(main, ["memories", "consolidate", "--db", db])
    assert merged.exit_code == 0, merged.output
    rows = [line for line in merged.output.splitlines() if "%" in line]
    assert [row.split("│")[1].strip() for row in rows] == ["ana", "bo"]
    forget = ["memories", "forget", "--db", db, "--max-per-user", "0", "--all-users"]
    erased = runner.invoke(main, forget)
    assert erased.exit_code == 0, erased.output
    with Engram(db) as mem:
        assert mem.memories.users() == []
        assert [m.text for m in mem.memories.get_all(agent_id="planner")] == ["An agent note"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ((), "give a rule"),
        (("--max-age", "1d", "--all-users"), "--user (repeatable) or --all-users"),
        (("--max-age", "ninety days"), "use a number and a unit"),
        (("--max-per-user", "-1"), "-1"),
    ],
)
def test_forget_refuses_a_missing_or_bad_rule(
    runner: CliRunner, db: str, options: tuple[str, ...], message: str
) -> None:
    result = runner.invoke(main, ["memories", "forget", "--db", db, "--user", "ana", *options])
    assert result.exit_code == 2 and message in result.output
    with Engram(db) as mem:
        assert len(mem.memories.get_all(user_id="ana")) == 3


def test_list_shows_whole_ids_and_history_of_an_unknown_id_fails(
    runner: CliRunner, db: str
) -> None:
    listed = CliRunner().invoke(
        main, ["memories", "list", "--db", db, "--user", "ana"], terminal_width=60
    )
    assert listed.exit_code == 0 and "m-short" in listed.output.replace("\n", "")
    unknown = runner.invoke(main, ["memories", "history", "--db", db, "m-sho"])
    assert unknown.exit_code == 1 and "no memory m-sho" in unknown.output


def test_memory_commands_embed_with_the_configured_endpoint(
    runner: CliRunner, db: str, openai_server: FakeOpenAIServer
) -> None:
    def answer(request: ReceivedRequest) -> ScriptedResponse:
        texts = request.json()["input"]
        rows = [[1.0 + len(text) % 3, 2.0, float(len(text))] for text in texts]
        return ScriptedResponse(json=embeddings_body(rows))

    openai_server.handler = answer
    env = {
        "ENGRAM_EMBEDDINGS__BASE_URL": openai_server.url,
        "ENGRAM_EMBEDDINGS__MODEL": "emb",
        "ENGRAM_EMBEDDINGS__API_KEY": "sk-cli-secret",
    }
    result = runner.invoke(main, ["memories", "reembed", "--db", db], env=env)
    assert result.exit_code == 0, result.output
    assert "embedded 3 memories with emb:openai-compatible:3" in " ".join(result.output.split())
    assert all(r.headers["authorization"] == "Bearer sk-cli-secret" for r in openai_server.requests)
    found = runner.invoke(
        main, ["memories", "search", "--db", db, "--user", "ana", "Lisbon"], env=env
    )
    assert found.exit_code == 0, found.output
    assert openai_server.requests[-1].json()["input"] == ["Lisbon"]


def test_a_bad_embeddings_setting_is_one_line_without_the_key(runner: CliRunner, db: str) -> None:
    env = {"ENGRAM_EMBEDDINGS__MODEL": "emb", "ENGRAM_EMBEDDINGS__APIKEY": "sk-cli-secret"}
    result = runner.invoke(main, ["memories", "reembed", "--db", db], env=env)
    assert result.exit_code == 1
    assert "embeddings.apikey" in result.output and "Traceback" not in result.output
    assert "sk-cli-secret" not in result.output


def test_memory_texts_are_shown_as_is(runner: CliRunner, tmp_path: Path) -> None:
    path = str(tmp_path / "markup.db")
    with Engram(path) as mem:
        added = mem.memories.add("Ana lives in Lisbon [/b]", user_id="ana", infer=False)
        mem.memories.update_profile("ana", {"motto": "[red]carpe diem"})
    [memory] = added.added
    listed = runner.invoke(main, ["memories", "list", "--db", path, "--user", "ana"])
    assert listed.exit_code == 0, listed.output
    assert "Lisbon [/b]" in listed.output
    found = runner.invoke(main, ["memories", "search", "--db", path, "--user", "ana", "Lisbon"])
    assert found.exit_code == 0, found.output
    assert "Lisbon [/b]" in found.output
    history = runner.invoke(main, ["memories", "history", "--db", path, memory.id])
    assert history.exit_code == 0 and "Lisbon [/b]" in history.output
    profile = runner.invoke(main, ["memories", "profile", "--db", path, "--user", "ana"])
    assert profile.exit_code == 0 and "[red]carpe diem" in profile.output
    nobody = runner.invoke(main, ["memories", "profile", "--db", path, "--user", "[/x]"])
    assert nobody.exit_code == 0 and "no profile for [/x]" in nobody.output


@pytest.mark.parametrize(
    "args",
    [
        ["list", "--user", "ana", "--limit", "100001"],
        ["list", "--user", "ana", "--limit", "-1"],
        ["search", "--user", "ana", "Lisbon", "--limit", "-1"],
    ],
    ids=["list-huge", "list-negative", "search-negative"],
)
def test_limits_out_of_range_are_usage_errors(runner: CliRunner, db: str, args: list[str]) -> None:
    result = runner.invoke(main, ["memories", *args, "--db", db])
    assert result.exit_code == 2 and "is not in the range" in result.output, result.output


def test_importing_a_binary_file_is_one_clean_error(runner: CliRunner, tmp_path: Path) -> None:
    data = tmp_path / "export.json"
    data.write_bytes(b"\xff\xfe\x00binary")
    result = runner.invoke(main, ["memories", "import", str(data), "--db", str(tmp_path / "n.db")])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "not JSON" in result.output
    assert not (tmp_path / "n.db").exists()


def test_reading_commands_do_not_create_the_memory_database(
    runner: CliRunner, db: str, tmp_path: Path
) -> None:
    missing = tmp_path / "typo" / "memories.db"
    env = {"ENGRAM_MEMORY_DB": str(missing)}
    for args in (["users"], ["list", "--user", "ana"], ["export", "--user", "ana"]):
        result = runner.invoke(main, ["memories", *args, "--db", db], env=env)
        assert result.exit_code == 1
        assert f"no database at {missing} (ENGRAM_MEMORY_DB)" in result.output
    assert not missing.parent.exists()


def test_users_are_one_per_line_or_json(runner: CliRunner, tmp_path: Path) -> None:
    path = str(tmp_path / "users.db")
    with Engram(path) as mem:
        for user in ("ana", "two\nlines", "esc\x1b[31m"):
            mem.memories.add("likes tea", user_id=user, infer=False)
    as_json = runner.invoke(main, ["memories", "users", "--db", path, "--json"])
    assert as_json.exit_code == 0, as_json.output
    listed = [json.loads(line) for line in as_json.output.splitlines()]
    assert sorted(listed) == ["ana", "esc\x1b[31m", "two\nlines"]
    lines = runner.invoke(main, ["memories", "users", "--db", path])
    assert lines.exit_code == 1 and "cannot be printed one per line: use --json" in lines.output
    assert "ana" not in lines.output.splitlines()  # nothing half printed


def test_an_endpoint_error_does_not_show_its_password(runner: CliRunner, db: str) -> None:
    env = {
        "ENGRAM_EMBEDDINGS__BASE_URL": "http://bob:s3cret@127.0.0.1:1/v1",
        "ENGRAM_EMBEDDINGS__MODEL": "emb",
        "ENGRAM_EMBEDDINGS__MAX_RETRIES": "0",
    }
    result = runner.invoke(main, ["memories", "search", "--db", db, "--user", "ana", "x"], env=env)
    assert result.exit_code == 1 and "ProviderUnavailable" in result.output, result.output
    assert "s3cret" not in result.output and "http://127.0.0.1:1/v1" in result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["consolidate", "--threshold", "nan"], "Invalid value for --threshold: nan"),
        (["forget", "--user", "ana", "--max-idle", "soon"], "Invalid value for --max-idle"),
        (["forget", "--user", "ana", "--max-age", "soon"], "Invalid value for --max-age"),
    ],
    ids=["nan-threshold", "max-idle", "max-age"],
)
def test_bad_option_values_are_usage_errors_naming_the_option(
    runner: CliRunner, db: str, args: list[str], says: str
) -> None:
    result = runner.invoke(main, ["memories", *args, "--db", db])
    assert result.exit_code == 2 and says in result.output, result.output
    with Engram(db) as mem:
        assert len(mem.memories.get_all(user_id="ana")) == 3


def test_an_export_of_a_user_without_memories_says_so_beside_valid_json(
    runner: CliRunner, db: str
) -> None:
    result = runner.invoke(main, ["memories", "export", "--db", db, "--user", "anna"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["memories"] == []
    assert "user 'anna' has no memories in tenant 'default'" in result.stderr
