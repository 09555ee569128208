"""Query intent: TF-IDF (words + character n-grams) and logistic regression, with an LRU cache."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, NamedTuple

from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped, unused-ignore]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped, unused-ignore]
from sklearn.pipeline import FeatureUnion, Pipeline  # type: ignore[import-untyped, unused-ignore]

__all__ = ["Intent", "IntentClassifier", "load_examples", "train"]

EXAMPLES = "intents.jsonl"


class Intent(NamedTuple):
    """The predicted label and the model's probability for it."""

    label: str
    confidence: float


def load_examples() -> tuple[list[str], list[str]]:
    """The shipped labelled example queries: (texts, labels)."""
    raw = resources.files("ragperf_demo").joinpath("data").joinpath(EXAMPLES).read_text(encoding="utf-8")
    records = [json.loads(line) for line in raw.splitlines() if line.strip()]
    return [r["text"] for r in records], [r["label"] for r in records]


def examples_text() -> str:
    """The raw example file, for cache keys."""
    return resources.files("ragperf_demo").joinpath("data").joinpath(EXAMPLES).read_text(encoding="utf-8")


def train(texts: list[str], labels: list[str], seed: int = 0) -> Any:
    """Fit the sklearn pipeline; character n-grams make it robust to typos and error names."""
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    model = Pipeline([("features", features), ("clf", LogisticRegression(C=10.0, max_iter=2000, random_state=seed))])
    model.fit(texts, labels)
    return model


class IntentClassifier:
    """Wraps a fitted pipeline; repeated queries are answered from a small LRU cache."""

    def __init__(self, model: Any, cache_size: int = 256) -> None:
        self.model = model
        # Per instance, so each setup starts cold and the cache dies with its context.
        self.predict = lru_cache(maxsize=cache_size)(self._predict)

    def _predict(self, query: str) -> Intent:
        proba = self.model.predict_proba([query])[0]
        best = int(proba.argmax())
        return Intent(str(self.model.classes_[best]), float(proba[best]))

    def __call__(self, query: str) -> Intent:
        """Classify one query (whitespace and case do not bust the cache)."""
        return self.predict(" ".join(query.lower().split()))
