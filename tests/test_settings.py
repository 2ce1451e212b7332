"""Settings from `ENGRAM_*` variables: wrong ones fail clearly, and never echo a secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram import ConfigError, Engram
from engram.cli import main
from engram.config import EmbeddingsSettings, EngramSettings, LLMSettings

SECRET = "sk-do-not-print-4711"


def test_a_bad_setting_is_a_config_error_that_hides_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGRAM_LLM__API_KEY", SECRET)  # but no ENGRAM_LLM__MODEL
    with pytest.raises(ConfigError, match="llm.model") as raised:
        Engram(":memory:")
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is not None
    assert SECRET not in repr(raised.value.__context__)  # not in the traceback either


def test_a_misspelt_llm_setting_fails_instead_of_calling_the_default_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGRAM_LLM__MODEL", "llama3.2")
    monkeypatch.setenv("ENGRAM_LLM__BASEURL", "http://localhost:11434/v1")
    with pytest.raises(ConfigError, match="llm.baseurl"):
        Engram(":memory:")


@pytest.mark.parametrize("section", ["LLM", "EMBEDDINGS"])
@pytest.mark.parametrize("timeout", ["inf", "nan"])
def test_a_timeout_no_request_can_take_is_refused_when_engram_opens(
    monkeypatch: pytest.MonkeyPatch, section: str, timeout: str
) -> None:
    monkeypatch.setenv(f"ENGRAM_{section}__MODEL", "llama3.2")
    monkeypatch.setenv(f"ENGRAM_{section}__TIMEOUT", timeout)
    with pytest.raises(ConfigError, match=f"{section.lower()}.timeout"):
        Engram(":memory:")


def test_a_base_url_without_a_scheme_is_refused_naming_its_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGRAM_LLM__MODEL", "llama3.2")
    monkeypatch.setenv("ENGRAM_LLM__BASE_URL", f"{SECRET}@localhost:11434/v1")
    with pytest.raises(ConfigError, match="llm.base_url: .*http:// or https://") as raised:
        Engram(":memory:")
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (
            lambda: LLMSettings(model=""),
            "llm.model: String should have at least 1 character (ENGRAM_LLM__MODEL)",
        ),
        (
            lambda: LLMSettings(model="llama3.2", baseurl="http://localhost:11434/v1"),
            "llm.baseurl: no such setting (misspelt?) (ENGRAM_LLM__BASEURL)",
        ),
        (
            lambda: LLMSettings(model="llama3.2", base_url=f"{SECRET}@localhost:11434/v1"),
            "llm.base_url: must start with http:// or https:// (e.g. http://localhost:11434/v1)"
            " (ENGRAM_LLM__BASE_URL)",
        ),
        (
            lambda: EmbeddingsSettings(model="nomic-embed-text", send_dimensions=True),
            "embeddings: send_dimensions needs a dimension (ENGRAM_EMBEDDINGS)",
        ),
        (
            lambda: EmbeddingsSettings(model="nomic-embed-text", batch_size=0),
            "embeddings.batch_size: Input should be greater than or equal to 1"
            " (ENGRAM_EMBEDDINGS__BATCH_SIZE)",
        ),
    ],
    ids=["empty model", "misspelt", "no scheme", "inconsistent", "out of range"],
)
def test_a_section_made_in_code_is_a_config_error_naming_its_setting(
    make: Callable[[], object], says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        make()
    assert str(raised.value) == f"bad ENGRAM_* settings: {says}"
    assert SECRET not in str(raised.value)


def test_every_bad_variable_is_reported_at_once_by_its_path_in_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENGRAM_TENANT", "")
    monkeypatch.setenv("ENGRAM_LLM__MODEL", "")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__MODEL", "nomic-embed-text")
    monkeypatch.setenv("ENGRAM_EMBEDDINGS__SEND_DIMENSIONS", "true")
    with pytest.raises(ConfigError) as raised:
        Engram(":memory:")
    assert str(raised.value) == (
        "bad ENGRAM_* settings: tenant: tenant must be a non-empty string, got '' (ENGRAM_TENANT)"
        "; llm.model: String should have at least 1 character (ENGRAM_LLM__MODEL)"
        "; embeddings: send_dimensions needs a dimension (ENGRAM_EMBEDDINGS)"
    )


def test_the_settings_repr_shows_no_password_of_an_address() -> None:
    settings = EngramSettings(
        db=f"postgresql://app:{SECRET}@db/engram",
        memory_db=f"host=db password={SECRET} dbname=engram",
        llm=LLMSettings(model="llama3.2", base_url=f"http://bob:{SECRET}@gpu:8000/v1"),
        embeddings=EmbeddingsSettings(
            model="nomic-embed-text", base_url=f"https://azure.example/v1?api-key={SECRET}"
        ),
    )
    for shown in (repr(settings), str(settings), repr(settings.llm)):
        assert SECRET not in shown
    assert "base_url='http://***@gpu:8000/v1'" in repr(settings.llm)
    assert settings.llm is not None and SECRET in settings.llm.base_url  # the value is intact


def test_the_cli_reports_bad_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Engram(tmp_path / "e.db"):
        pass
    monkeypatch.setenv("ENGRAM_LLM__API_KEY", SECRET)  # but no ENGRAM_LLM__MODEL
    result = CliRunner().invoke(main, ["sessions", "list", "--db", str(tmp_path / "e.db")])
    assert result.exit_code == 1
    assert "ConfigError" in result.output and "Traceback" not in result.output
    assert SECRET not in result.output
