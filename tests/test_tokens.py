"""OpenAI tokenizers: offline loading, and counts exactly equal to tiktoken's.

The reference is tiktoken's own definition of each encoding (`tiktoken_ext.openai_public`),
fed our shipped rank file through tiktoken's download cache (`TIKTOKEN_CACHE_DIR`, keyed by
the sha1 of the URL), with downloads made to fail, so it never touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import re
import time
from importlib import resources
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engram.tokens as tokens
from engram._exceptions import ConfigError, InvalidInputError
from engram.tokens import TiktokenTokenizer, get_tokenizer
from engram.tokens._encodings import ENCODING_NAMES, load_encoding, read_rank_file
from engram.tokens._runs import repeated_byte_bpe
from engram.tokens._tiktoken import split_chunks

DATA = resources.files("engram.tokens").joinpath("data")


def _url(name: str) -> str:
    return f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _no_download(blobpath: str) -> bytes:
    raise AssertionError(f"tiktoken tried to download {blobpath}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """tiktoken's official encodings, built from the shipped rank files, offline."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    for name in ENCODING_NAMES:
        contents = gzip.decompress(DATA.joinpath(f"{name}.tiktoken.gz").read_bytes())
        (cache / hashlib.sha1(_url(name).encode()).hexdigest()).write_bytes(contents)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        patch.setattr(tiktoken.load, "read_file", _no_download)
        return {
            name: tiktoken.Encoding(**openai_public.ENCODING_CONSTRUCTORS[name]())
            for name in ENCODING_NAMES
        }


@pytest.fixture(params=ENCODING_NAMES)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _small_chunks(name: str) -> TiktokenTokenizer:
    """A tokenizer that chunks everything and pre-tokenizes in Python past 16 chars."""
    return TiktokenTokenizer(load_encoding(name), chunk_chars=3, native_chunk_chars=16)


# --- loading ------------------------------------------------------------------------------


def test_public_api_is_sorted_and_complete() -> None:
    public = {n for n in vars(tokens) if not n.startswith("_") and n != "annotations"}
    assert tokens.__all__ == sorted(tokens.__all__)
    assert set(tokens.__all__) == public


def test_rank_files_carry_tiktokens_pinned_hashes(name: str) -> None:
    source = inspect.getsource(openai_public.ENCODING_CONSTRUCTORS[name])
    pinned = re.search(r'expected_hash="([0-9a-f]{64})"', source)
    assert pinned is not None
    contents = gzip.decompress(DATA.joinpath(f"{name}.tiktoken.gz").read_bytes())
    assert hashlib.sha256(contents).hexdigest() == pinned.group(1)


def test_encoding_equals_tiktokens_definition(
    name: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    ours, theirs = load_encoding(name), reference[name]
    assert ours.name == theirs.name
    assert ours._pat_str == theirs._pat_str
    assert ours._special_tokens == theirs._special_tokens
    assert ours._mergeable_ranks == theirs._mergeable_ranks


def test_encodings_and_tokenizers_are_loaded_once(name: str) -> None:
    assert load_encoding(name) is load_encoding(name)
    assert get_tokenizer(name) is get_tokenizer(name)
    assert get_tokenizer(name).name == name


def test_unknown_encoding_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="o200k_base"):
        get_tokenizer("p50k_base")


def _gzipped(path: Path, contents: bytes) -> Path:
    path.write_bytes(gzip.compress(contents))
    return path


def test_rank_file_with_wrong_hash_is_a_config_error(tmp_path: Path) -> None:
    contents = b"IQ== 0\nIg== 1\n"
    path = _gzipped(tmp_path / "ranks.tiktoken.gz", contents)
    assert read_rank_file(path, hashlib.sha256(contents).hexdigest()) == {b"!": 0, b'"': 1}
    with pytest.raises(ConfigError, match="corrupt"):
        read_rank_file(path, "0" * 64)


@pytest.mark.parametrize("contents", [b"IQ== zero\n", b"I!Q== 0\n", b"IQ==\n"])
def test_malformed_rank_file_is_a_config_error(tmp_path: Path, contents: bytes) -> None:
    path = _gzipped(tmp_path / "ranks.tiktoken.gz", contents)
    with pytest.raises(ConfigError, match="malformed"):
        read_rank_file(path, hashlib.sha256(contents).hexdigest())


def test_missing_or_non_gzip_rank_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        read_rank_file(tmp_path / "missing.gz", "0" * 64)
    (tmp_path / "plain").write_bytes(b"IQ== 0\n")
    with pytest.raises(ConfigError):
        read_rank_file(tmp_path / "plain", "0" * 64)


# --- exact counts -------------------------------------------------------------------------

CORPUS = {
    "empty": "",
    "prose": (
        "It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness... Don't you think? I'd say we'll see; they've gone."
    ),
    "code": (
        "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
        "    return fib(n - 1) + fib(n - 2)\n\n\tprint({'a': [1, 2, 3]})  # done\r\n"
    ),
    "cjk": "お誕生日おめでとう。今天天气很好，我们去公园散步吧！한국어 텍스트도 있습니다.",
    "emoji": "👍🏽 family: 👨‍👩‍👧‍👦, flags 🇫🇷🇯🇵, heart ❤️‍🔥, 🏳️‍🌈 and ZWJ‍alone",
    "numbers": "3.14159 1234567890 1,000,000 0x1F 1e-9 ١٢٣ ⅷ",
    "special_tokens": "<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|><|endofprompt|>",
    "whitespace": "a  b   c\t\td\n\n\ne \r\n f \u00a0 g\u3000h \x1c i\u2028j \u200b k   ",
    "accents": "Ça coûte 5€ — naïve café, Straße, İstanbul, ǅemal, e\u0301",
    "contractions": "It's THEY'RE we'Ll I'M you'D she's O'Neil's 's",
    "tabs_newlines_mix": "\t \n" * 50 + "x" + " \t" * 40 + "\n\n  y",
    "lone_surrogate": "before \ud800 after \udfff\ud83d\ude00 end",
}


@pytest.mark.parametrize("text", list(CORPUS.values()), ids=list(CORPUS))
def test_counts_equal_tiktoken(
    name: str, reference: dict[str, tiktoken.Encoding], text: str
) -> None:
    expected = reference[name].encode(text, disallowed_special=())
    assert get_tokenizer(name).encode(text) == expected
    assert get_tokenizer(name).count(text) == len(expected)
    assert _small_chunks(name).encode(text) == expected


def test_special_token_text_counts_as_plain_text(name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert tokenizer.count("<|endoftext|>") > 1
    assert load_encoding(name).eot_token not in tokenizer.encode("<|endoftext|>")


LONG = {
    "prose": CORPUS["prose"] * 300,
    "code": CORPUS["code"] * 300,
    "cjk_without_spaces": "今天天气很好我们去公园散步吧" * 5_000,
    "emoji": CORPUS["emoji"] * 500,
    "spaces_between_words": "x" + " " * 70_000 + "y z",
    "mixed_whitespace": "a" + "\t\n  " * 18_000 + "b",
    "newlines": "end.\n" + "\n" * 70_000 + "start",
    "tab_run": "\t" * 70_000,
    "equals_run": "title\n" + "=" * 70_000 + "\n",
}


@pytest.mark.parametrize("text", list(LONG.values()), ids=list(LONG))
def test_long_texts_count_exactly(
    name: str, reference: dict[str, tiktoken.Encoding], text: str
) -> None:
    expected = reference[name].encode_ordinary(text)
    assert get_tokenizer(name).encode(text) == expected
    assert get_tokenizer(name).count(text) == len(expected)


def test_a_million_spaces_is_fast_and_exact(
    name: str, reference: dict[str, tiktoken.Encoding]
) -> None:
    # tiktoken's native regex overflows its stack on a million spaces, so the expected count
    # comes from a smaller equivalent: k*128 + 64 spaces are k tokens of 128 spaces and one
    # of 64, checked against tiktoken for k = 1000; a million is 7812*128 + 64.
    assert len(reference[name].encode_ordinary(" " * (1000 * 128 + 64))) == 1001
    tokenizer = get_tokenizer(name)
    tokenizer.count(" " * 70_000)  # warm the tables, so only the count is timed
    started = time.perf_counter()
    count = tokenizer.count(" " * 1_000_000)
    elapsed = time.perf_counter() - started
    assert count == 7813
    assert elapsed < 2.0, f"a million spaces took {elapsed:.2f}s"


@pytest.mark.parametrize("char", [" ", "\t", "\n", "=", "-", "_", "*", "#", ".", "a", "Z"])
def test_long_runs_of_one_character_count_exactly(
    name: str, reference: dict[str, tiktoken.Encoding], char: str
) -> None:
    tokenizer = TiktokenTokenizer(load_encoding(name), chunk_chars=64, native_chunk_chars=64)
    for length in (256, 257, 1_000, 4_097, 12_345):
        text = f"x {char * length} y"
        assert tokenizer.encode(text) == reference[name].encode_ordinary(text), length


@settings(max_examples=150, deadline=None)
@given(
    char=st.integers(min_value=1, max_value=127).map(chr),
    length=st.integers(min_value=1, max_value=3_000),
)
def test_repeated_byte_bpe_equals_tiktokens_bpe(char: str, length: int) -> None:
    for name in ENCODING_NAMES:
        encoding = load_encoding(name)
        ranks = {}
        for size in range(1, 129):
            try:
                ranks[size] = encoding.encode_single_token(char.encode() * size)
            except KeyError:
                continue
        expected = encoding._encode_single_piece(char.encode() * length)
        assert repeated_byte_bpe(ranks, length) == expected


TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(" \t\n\r\u00a0\u3000\x0b\x0c\x1c\u2028'sSdDtT0123!?.,/<|>")),
        st.characters(codec="utf-8"),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_any_text_counts_exactly(reference: dict[str, tiktoken.Encoding], text: str) -> None:
    for name in ENCODING_NAMES:
        expected = reference[name].encode_ordinary(text)
        assert get_tokenizer(name).encode(text) == expected
        assert get_tokenizer(name).count(text) == len(expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=TEXT,
    chunk_chars=st.integers(min_value=1, max_value=12),
    native_chunk_chars=st.integers(min_value=0, max_value=40),
)
def test_chunked_and_python_pre_tokenized_paths_count_exactly(
    reference: dict[str, tiktoken.Encoding], text: str, chunk_chars: int, native_chunk_chars: int
) -> None:
    for name in ENCODING_NAMES:
        tokenizer = TiktokenTokenizer(
            load_encoding(name), chunk_chars=chunk_chars, native_chunk_chars=native_chunk_chars
        )
        assert tokenizer.encode(text) == reference[name].encode_ordinary(text)


@given(text=TEXT, size=st.integers(min_value=1, max_value=20))
def test_chunks_cover_the_text_and_start_at_a_space_after_a_non_space(text: str, size: int) -> None:
    chunks = list(split_chunks(text, size))
    assert "".join(chunks) == text
    for chunk in chunks[1:]:
        assert chunk.startswith(" ")
    for before, _ in zip(chunks, chunks[1:], strict=False):
        assert len(before) >= size
        assert not before[-1].isspace()


# --- truncation ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(text=TEXT, max_tokens=st.integers(min_value=0, max_value=40))
def test_truncate_keeps_a_prefix_that_fits(text: str, max_tokens: int) -> None:
    for name in ENCODING_NAMES:
        tokenizer = get_tokenizer(name)
        assert isinstance(tokenizer, TiktokenTokenizer)
        head = tokenizer.truncate(text, max_tokens)
        assert text.startswith(head)
        assert tokenizer.count(head) <= max_tokens
        if tokenizer.count(text) <= max_tokens:
            assert head == text


def test_truncate_keeps_exactly_the_first_tokens(name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert isinstance(tokenizer, TiktokenTokenizer)
    text = CORPUS["prose"]
    ids = tokenizer.encode(text)
    assert tokenizer.truncate(text, 7) == tokenizer.decode(ids[:7])
    assert tokenizer.truncate(text, 0) == ""
    assert tokenizer.truncate(text, len(ids)) == text


def test_truncate_never_splits_a_character(name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert isinstance(tokenizer, TiktokenTokenizer)
    text = "👨‍👩‍👧‍👦" * 10 + "渋谷区神宮前" * 5
    for max_tokens in range(tokenizer.count(text) + 1):
        head = tokenizer.truncate(text, max_tokens)
        assert "\ufffd" not in head
        assert text.startswith(head)
        assert tokenizer.count(head) <= max_tokens


def test_truncate_of_a_huge_text_stops_early(name: str) -> None:
    tokenizer = get_tokenizer(name)
    assert isinstance(tokenizer, TiktokenTokenizer)
    text = LONG["prose"] * 100  # ~5 MB
    head = tokenizer.truncate(text, 50)
    assert head == tokenizer.decode(tokenizer.encode(text[:1_000])[:50])
