"""The in-process figures: normalization, embedding against the raw model, the story tracker at a given
number of active stories, and the whole Detector. Framework-free: no faust, no broker.

Every rate is documents per wall-clock second of the timed region only (models are loaded and warmed up
before the clock starts). Figures measured side by side are interleaved batch by batch, so that a noisy
machine slows them alike and their ratio holds.
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import Embedder, Matrix, WrappedEmbedder
from streams.core.messages import InputMessage
from streams.core.normalize import TextNormalizer
from streams.core.ordering import canonical_order_key
from streams.errors import ArticleRejected
from streams.files import read_messages
from streams.offline import prepare_in_batches, run_offline
from streams.records import Article, EmbeddedArticle, Rejection, parse_article
from streams.settings import Settings

# Persian letters for synthetic words (their texts only need to be distinct, not meaningful).
_PERSIAN_LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
SYNTHETIC_ID_PREFIX = "bench-synthetic/"


def read_posts(path: Path, limit: int | None) -> list[InputMessage]:
    """The first ``limit`` posts of a JSON-lines file (all of them when ``limit`` is None)."""
    messages = read_messages(path)
    return list(islice(messages, limit) if limit is not None else messages)


def rate(count: int, seconds: float) -> float | None:
    """Documents per second, or None when nothing was timed."""
    return round(count / seconds, 2) if count and seconds > 0 else None


# --- normalization -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    figures: dict[str, Any]
    texts: list[str]  # normalized texts of the accepted posts: the embedding stage's input


def parse_posts(messages: Sequence[InputMessage], settings: Settings) -> list[Article]:
    """The posts that parse as articles (the rest is rejected before normalization)."""
    articles: list[Article] = []
    for message in messages:
        try:
            articles.append(
                parse_article(
                    message.raw,
                    max_bytes=settings.kafka.max_message_bytes,
                    max_text_chars=settings.worker.max_text_chars,
                )
            )
        except ArticleRejected:
            continue
    return articles


def measure_normalize(
    articles: Sequence[Article], min_seconds: float, progress: bool = False
) -> NormalizeResult:
    """Boilerplate stripping, hazm normalization and tokenization (``TextNormalizer.normalize``) alone,
    repeated over the posts until ``min_seconds`` have been timed."""
    normalizer = TextNormalizer()  # loads hazm's word lists: outside the clock
    texts: list[str] = []
    seconds = 0.0
    documents = 0
    passes = 0
    with tqdm(desc="normalize", unit="doc", disable=not progress) as bar:
        while articles and (passes == 0 or seconds < min_seconds):
            kept: list[str] = []
            started = time.perf_counter()
            for article in articles:
                try:
                    kept.append(normalizer.normalize(article.text, article.title).text)
                except ArticleRejected:
                    continue
            seconds += time.perf_counter() - started
            documents += len(articles)
            passes += 1
            bar.update(len(articles))
            texts = kept
    return NormalizeResult(
        figures={
            "docs_per_s": rate(documents, seconds),
            "documents": documents,
            "passes": passes,
            "seconds": round(seconds, 3),
            "accepted": len(texts),
        },
        texts=texts,
    )


# --- embedding ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contender:
    """One thing that embeds batches: an embedder as the pipeline calls it, or the raw model."""

    name: str
    embed: Callable[[Sequence[str]], Any]
    batches: list[list[str]]


def measure_embedding(
    contenders: Sequence[Contender],
    progress: bool = False,
    keep: str | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, NDArray[np.float32]]]:
    """Embed the same batches with every contender, interleaved batch by batch (the order alternating),
    after one warm-up batch each. Returns per contender its figures, and the vectors ``keep`` (a
    contender's name) produced, by text (to prepare the tracker's records without embedding twice)."""
    seconds = {contender.name: 0.0 for contender in contenders}
    documents = {contender.name: 0 for contender in contenders}
    kept: dict[str, NDArray[np.float32]] = {}
    for contender in contenders:
        if contender.batches:
            contender.embed(contender.batches[0])  # first-call costs (threads, buffers) off the clock
    rounds = max((len(contender.batches) for contender in contenders), default=0)
    total = sum(len(batch) for contender in contenders for batch in contender.batches)
    with tqdm(total=total, desc="embed", unit="doc", disable=not progress) as bar:
        for index in range(rounds):
            order = list(contenders) if index % 2 == 0 else list(reversed(contenders))
            for contender in order:
                if index >= len(contender.batches):
                    continue
                batch = contender.batches[index]
                started = time.perf_counter()
                vectors = contender.embed(batch)
                seconds[contender.name] += time.perf_counter() - started
                documents[contender.name] += len(batch)
                bar.update(len(batch))
                if contender.name == keep:
                    for text, vector in zip(batch, vectors, strict=True):
                        kept[text] = vector
    figures = {
        name: {
            "docs_per_s": rate(documents[name], seconds[name]),
            "documents": documents[name],
            "seconds": round(seconds[name], 3),
        }
        for name in seconds
    }
    return figures, kept


def batches_of(texts: Sequence[str], size: int) -> list[list[str]]:
    return [list(texts[first : first + size]) for first in range(0, len(texts), size)]


class RememberedEmbedder(WrappedEmbedder):
    """An embedder that first looks a text up among vectors already computed (by the embedding
    measurement) and embeds only the rest: the tracker's records without running the model twice."""

    def __init__(self, inner: Embedder, known: dict[str, NDArray[np.float32]]) -> None:
        super().__init__(inner)
        self._known = known

    def embed(self, texts: Sequence[str]) -> Matrix:
        missing = sorted({text for text in texts if text not in self._known})
        if missing:
            for text, vector in zip(missing, self._inner.embed(missing), strict=True):
                self._known[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._known[text] for text in texts]).astype(np.float32)


def embed_posts(
    messages: Sequence[InputMessage], settings: Settings, embedder: Embedder, progress: bool = False
) -> list[EmbeddedArticle]:
    """The posts as the story tracker receives them (the preparing stage's output), in tracking order."""
    prepared = prepare_in_batches(
        Detector(settings, embedder),
        messages,
        settings.embedder.batch_size,
        progress,
        "prepare tracker input",
    )
    articles = [item for item in prepared if not isinstance(item, Rejection)]
    return sorted(articles, key=canonical_order_key)


# --- the story tracker -------------------------------------------------------------------------------


class SyntheticStories:
    """Articles that each open a story of their own: a random unit vector and a distinct random text
    (random words over a large vocabulary), so that neither dense nor lexical evidence joins them.

    Given real vectors (``like``), the random vectors are drawn from a Gaussian fitted to them (their
    mean and per-dimension spread) before normalizing: e5 vectors all share one direction, which the
    centered tracker removes by subtracting the stream's mean. Isotropic vectors would drag that mean to
    zero and leave the real posts' shared direction in, so that every real post would join one story.
    """

    def __init__(
        self,
        dimension: int,
        seed: int,
        vocabulary: int = 50_000,
        words: int = 12,
        like: Sequence[NDArray[np.float32]] = (),
    ) -> None:
        self._rng = np.random.default_rng(seed)
        self._dimension = dimension
        self._words = words
        self._mean = np.zeros(dimension, dtype=np.float32)
        self._spread = np.ones(dimension, dtype=np.float32)
        if len(like) >= 2:
            real = np.stack(like).astype(np.float32)
            self._mean = real.mean(axis=0)
            self._spread = real.std(axis=0) + 1e-6
        picks = self._rng.integers(0, len(_PERSIAN_LETTERS), size=(vocabulary, 8))
        lengths = self._rng.integers(3, 9, size=vocabulary)
        self._vocabulary = sorted(
            {
                "".join(_PERSIAN_LETTERS[pick] for pick in row[:length])
                for row, length in zip(picks.tolist(), lengths.tolist(), strict=True)
            }
        )

    def articles(
        self, count: int, first: datetime, spacing: timedelta, embedder: str
    ) -> Iterator[EmbeddedArticle]:
        for index in range(count):
            vector = self._mean + self._spread * self._rng.standard_normal(self._dimension).astype(np.float32)
            vector /= np.linalg.norm(vector)
            picks = self._rng.integers(0, len(self._vocabulary), size=self._words)
            tokens = [self._vocabulary[int(pick)] for pick in picks] + [_serial_word(index)]
            yield EmbeddedArticle(
                id=f"{SYNTHETIC_ID_PREFIX}{index}",
                published_at=first + index * spacing,
                source=f"synthetic-{index % 8}",
                headline=" ".join(tokens[:6]),
                tokens=tokens,
                embedding=EmbeddedArticle.encode_vector(vector),
                embedder=embedder,
            )


def _serial_word(index: int) -> str:
    """A word unique to article ``index``: every synthetic text is distinct."""
    digits = string.ascii_lowercase
    word = ""
    index += 1
    while index:
        index, remainder = divmod(index, len(digits))
        word = digits[remainder] + word
    return "x" + word


@dataclass(frozen=True, slots=True)
class TrackerLevel:
    stories: int  # the active stories wanted when the measurement starts
    fill_seconds: float  # stop filling after this long (an unreached level gets no rate)
    measure_articles: int
    measure_seconds: float  # stop measuring after this long (the rate is over what was done)


def measure_tracker_level(
    posts: Sequence[EmbeddedArticle],
    settings: Settings,
    dimension: int,
    calibration: Calibration,
    level: TrackerLevel,
    seed: int,
    progress: bool = False,
) -> dict[str, Any]:
    """``Detector.track`` per real post while ``level.stories`` stories are active.

    A fresh detector is filled through its public API with synthetic articles (``SyntheticStories``,
    their vectors fitted to the real posts') spread over 90% of the story window just before the
    measured posts; the real posts (precomputed, in tracking order) are
    then re-timed a second apart (at most 4% of the window in all), so that no synthetic story expires
    while they are measured.
    """
    detector = Detector(settings, calibration=calibration)
    window = timedelta(hours=settings.tracker.window_hours)
    measured = list(posts[: level.measure_articles])
    start = measured[0].published_at if measured else datetime.fromisoformat("2026-01-01T00:00:00+00:00")
    fill_first = start - window * 0.95
    spacing = (window * 0.9) / max(level.stories, 1)
    embedder = measured[0].embedder if measured else "synthetic"
    synthetic = SyntheticStories(dimension, seed, like=[post.vector() for post in posts])

    filled = 0
    fill_started = time.perf_counter()
    last_mark, last_filled = fill_started, 0
    tail_ms: float | None = None  # per-article cost of the latest fill stretch (each opens a story)
    reached = True
    with tqdm(
        total=level.stories, desc=f"fill {level.stories} stories", unit="story", disable=not progress
    ) as bar:
        for article in synthetic.articles(level.stories, fill_first, spacing, embedder):
            detector.track(article)
            filled += 1
            if filled % 250 == 0 or filled == level.stories:
                now = time.perf_counter()
                tail_ms = (now - last_mark) * 1000 / (filled - last_filled)
                last_mark, last_filled = now, filled
                bar.update(filled - bar.n)
                if now - fill_started > level.fill_seconds and filled < level.stories:
                    reached = False
                    break
    fill_seconds = time.perf_counter() - fill_started
    active_at_start = detector.active_stories

    step = min(timedelta(seconds=1), window * 0.04 / max(len(measured), 1))
    retimed = [
        post.model_copy(update={"published_at": start + index * step}) for index, post in enumerate(measured)
    ]
    done = 0
    new_stories = 0
    seconds = 0.0
    with tqdm(
        total=len(retimed), desc=f"track at {active_at_start} stories", unit="doc", disable=not progress
    ) as bar:
        for post in retimed:
            started = time.perf_counter()
            result = detector.track(post)
            seconds += time.perf_counter() - started
            done += 1
            new_stories += bool(result.assignment and result.assignment.new_story)
            bar.update(1)
            if seconds > level.measure_seconds:
                break
    return {
        "reached": reached,
        "active_stories_at_start": active_at_start,
        "active_stories_at_end": detector.active_stories,
        "docs_per_s": rate(done, seconds) if reached else None,
        "ms_per_article": round(seconds * 1000 / done, 3) if done and reached else None,
        "articles": done,
        "new_stories": new_stories,
        "seconds": round(seconds, 3),
        "fill_articles": filled,
        "fill_seconds": round(fill_seconds, 2),
        "fill_ms_per_article_at_end": round(tail_ms, 3) if tail_ms is not None else None,
        # When the fill stopped short, the rate at the stories it did reach (not the level's figure).
        "docs_per_s_at_reached": rate(done, seconds) if not reached else None,
    }


# --- the whole Detector ------------------------------------------------------------------------------


def measure_offline(
    messages: Sequence[InputMessage], settings: Settings, embedder: Embedder, progress: bool = False
) -> dict[str, Any]:
    """``run_offline`` over the posts (model loaded beforehand): parse, normalize, embed, track."""
    started = time.perf_counter()
    result = run_offline(messages, settings, embedder, progress=progress)
    seconds = time.perf_counter() - started
    return {
        "docs_per_s": rate(len(messages), seconds),
        "documents": len(messages),
        "accepted": len(result.assignments),
        "rejected": len(result.rejections),
        "stories": len(result.snapshots),
        "alerts": len(result.alerts),
        "seconds": round(seconds, 3),
    }
