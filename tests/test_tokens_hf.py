"""Hugging Face tokenizers behind `TokenizerProtocol`, built locally (nothing downloaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from engram._exceptions import ConfigError
from engram.tokens import HFTokenizer, TokenCounter
from engram.types import Message

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "naïve café déjà vu — 東京 タワー 👍",
    "def main():\n    return 42\n",
] * 20


@pytest.fixture(scope="module")
def byte_level_json() -> str:
    """A small byte-level BPE (GPT-2 style) trained here, adding [CLS] around every text."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["[CLS]"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A", special_tokens=[("[CLS]", tokenizer.token_to_id("[CLS]"))]
    )
    return tokenizer.to_str()


@pytest.fixture(scope="module")
def hf(byte_level_json: str) -> HFTokenizer:
    return HFTokenizer.from_str(byte_level_json, name="toy-bpe")


def test_counts_match_the_library_without_special_tokens(
    hf: HFTokenizer, byte_level_json: str
) -> None:
    library = Tokenizer.from_str(byte_level_json)
    for text in CORPUS[:3] + ["", "unseen wörds ✨"]:
        ids = library.encode(text, add_special_tokens=False).ids
        assert hf.encode(text) == ids
        assert hf.count(text) == len(ids)
        assert library.encode(text).ids[1:] == ids  # [CLS] is not counted


def test_from_file_and_default_names(tmp_path: Path, byte_level_json: str) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text(byte_level_json, encoding="utf-8")
    first, second = HFTokenizer.from_file(path), HFTokenizer.from_str(byte_level_json)
    assert first.name == second.name
    assert first.name.startswith("hf:")
    assert HFTokenizer.from_file(path, name="mine").name == "mine"
    assert first.count("the quick fox") == second.count("the quick fox")


def test_bad_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        HFTokenizer.from_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid tokenizer"):
        HFTokenizer.from_file(tmp_path / "bad.json")


def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, byte_level_json: str
) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # `import tokenizers` fails
    with pytest.raises(ConfigError, match=r"pip install engramdb\[hf\]"):
        HFTokenizer.from_str(byte_level_json)


def test_token_counter_over_a_hugging_face_tokenizer(hf: HFTokenizer) -> None:
    counter = TokenCounter(hf)
    assert counter.encoding == "toy-bpe"
    message = Message(role="user", content="the lazy dog")
    assert counter.count_message(message) == 3 + hf.count("user") + hf.count("the lazy dog")


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=60), max_tokens=st.integers(min_value=0, max_value=30))
def test_truncate_keeps_a_prefix_that_fits(hf: HFTokenizer, text: str, max_tokens: int) -> None:
    head = TokenCounter(hf).truncate_text(text, max_tokens)
    assert text.startswith(head)
    assert hf.count(head) <= max_tokens
    if hf.count(text) <= max_tokens:
        assert head == text


def test_truncate_keeps_the_first_tokens(hf: HFTokenizer, byte_level_json: str) -> None:
    text = "the quick brown fox jumps over the lazy dog"
    offsets = Tokenizer.from_str(byte_level_json).encode(text, add_special_tokens=False).offsets
    assert hf.truncate(text, 3) == text[: offsets[2][1]]
    assert hf.count(hf.truncate(text, 3)) == 3
