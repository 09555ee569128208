"""The shared tokenizer and reciprocal-rank fusion."""

from __future__ import annotations

import pytest

from ragperf_demo.fusion import Hit, rrf
from ragperf_demo.text import identifiers, tokenize


def test_tokenize_keeps_dotted_names_and_their_parts() -> None:
    # GIVEN a question naming an API with a dotted name
    # WHEN it is tokenized
    terms = tokenize("What does json.loads return?")
    # THEN the whole name and each part are terms, stopwords are gone
    assert "json.loads" in terms
    assert {"json", "load"} <= set(terms)
    assert "what" not in terms
    assert "does" not in terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("OrderedDict", {"ordereddict", "ordered", "dict"}),
        ("ensure_ascii", {"ensure_ascii", "ensure", "ascii"}),
        ("processes directories files", {"process", "directory", "file"}),
        ("HTTPServer", {"httpserver", "http", "server"}),
    ],
)
def test_tokenize_splits_identifiers_and_folds_plurals(text: str, expected: set[str]) -> None:
    # GIVEN CamelCase, snake_case and plural words
    # WHEN tokenized
    # THEN the pieces and singular forms appear
    assert expected <= set(tokenize(text))


def test_identifiers_only_returns_code_like_words() -> None:
    # GIVEN prose with two code names
    # WHEN identifiers are extracted
    # THEN only the dotted and underscored names come back, as written
    assert identifiers("use os.path.join or shutil copy with follow_symlinks") == ["os.path.join", "follow_symlinks"]


def test_rrf_sums_reciprocal_ranks_across_lists() -> None:
    # GIVEN two rankings that agree on "b" but not on first place
    rankings = {"x": [Hit("a", 9.0), Hit("b", 5.0)], "y": [Hit("c", 3.0), Hit("b", 2.0)]}
    # WHEN fused with k=60
    fused = rrf(rankings, k=60)
    # THEN "b" (rank 2 twice) beats the two single first places, with the exact RRF score
    assert fused[0].pid == "b"
    assert fused[0].score == pytest.approx(2 / 62)
    assert {h.pid for h in fused[1:]} == {"a", "c"}


def test_rrf_weights_and_limit() -> None:
    # GIVEN two single-hit rankings, the second weighted three times
    rankings = {"x": [Hit("a", 1.0)], "y": [Hit("b", 1.0)]}
    # WHEN fused with weights and a limit of one
    fused = rrf(rankings, weights={"y": 3.0}, limit=1)
    # THEN only the weighted list's hit remains
    assert fused == [Hit("b", pytest.approx(3 / 61))]
