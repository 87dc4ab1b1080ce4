"""Self-supervised same-story pairs mined from unlabelled posts (``train-encoder --mined-pairs``).

Two posts of different channels published within a few hours of each other whose word TF-IDF cosine is
high tell, most of the time, one event: the silver pairs' recipe, widened from near-copies to rewrites.
Each post is paired with its most similar earlier post of another source within ``max_gap`` when their
cosine falls in ``[low, high)``; ``high`` leaves out near-copies (the encoder already places those
together; they teach it nothing). Document frequencies come from every mined post (a first pass), so
early posts are weighed like late ones. Pairs that share a post are one group: the trainer never uses
one as the other's negative.

Only posts published before the cut-off and outside the excluded days (the development days' run
windows) are read. How often a mined pair is a gold same-story pair is measured on the training days,
where gold labels exist (``precision_on``).
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from streams.core.lexical import OnlineTfidf
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected
from streams.tools.evaluation.gold import TEHRAN, StreamLine
from streams.tools.evaluation.metrics import GoldLabel

# More dimensions than the tracker's 4,096: fewer hash collisions between unrelated posts.
DIMENSION = 16_384


@dataclass(frozen=True, slots=True)
class MiningOptions:
    # Chosen on the training days' gold labels: pairs in this band are one gold story 99% of the time
    # (train-encoder reports it); weaker matches are rewrites of other events too. See docs/ENCODER.md.
    low: float = 0.35
    high: float = 0.9
    max_gap: timedelta = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class MinedPost:
    id: str
    published_at: datetime
    source: str
    tokens: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MinedPair:
    first: str  # the earlier post
    second: str
    cosine: float
    group: str  # the earliest post of the pairs connected to this one (a story key for the trainer)


def unlabelled_posts(
    lines: Iterable[StreamLine], until: datetime, excluded_days: Iterable[date], progress: bool = False
) -> list[MinedPost]:
    """The stream's posts published before ``until`` on days (Tehran) not in ``excluded_days``, with the
    pipeline's content tokens; posts the pipeline rejects are left out."""
    excluded = set(excluded_days)
    normalizer = TextNormalizer()
    posts: list[MinedPost] = []
    for line in tqdm(lines, desc="reading posts", unit="post", disable=not progress):
        if not line.article_id or line.published_at is None or line.published_at >= until:
            continue
        if line.published_at.astimezone(TEHRAN).date() in excluded:
            continue
        record = json.loads(line.raw)
        text = record.get("text")
        source = record.get("source")
        if not isinstance(text, str) or not isinstance(source, str):
            continue
        try:
            tokens = normalizer.normalize(text).tokens
        except ArticleRejected:
            continue
        posts.append(MinedPost(line.article_id, line.published_at, source, tokens))
    return posts


def mine_pairs(
    posts: Sequence[MinedPost], options: MiningOptions = MiningOptions(), progress: bool = False
) -> list[MinedPair]:
    """The mined pairs of ``posts`` (any order; mined in ``(published_at, id)`` order)."""
    ordered = sorted(posts, key=lambda post: (post.published_at, post.id))
    tfidf = OnlineTfidf(DIMENSION)
    for post in ordered:
        tfidf.observe(post.tokens)
    recent: deque[tuple[MinedPost, NDArray[np.float32]]] = deque()
    found: list[tuple[str, str, float]] = []
    for post in tqdm(ordered, desc="mining pairs", unit="post", disable=not progress):
        while recent and recent[0][0].published_at < post.published_at - options.max_gap:
            recent.popleft()
        vector = tfidf.vector(post.tokens)
        others = [(other, row) for other, row in recent if other.source != post.source]
        if others:
            cosines = np.stack([row for _, row in others]) @ vector
            best = int(np.argmax(cosines))
            cosine = float(cosines[best])
            if options.low <= cosine < options.high:
                found.append((others[best][0].id, post.id, round(cosine, 6)))
        if post.tokens:
            recent.append((post, vector))
    return _grouped(found, {post.id: index for index, post in enumerate(ordered)})


def _grouped(found: Sequence[tuple[str, str, float]], order: Mapping[str, int]) -> list[MinedPair]:
    """Each pair with its connected group's earliest post (union-find over shared posts)."""
    parent: dict[str, str] = {}

    def root(item: str) -> str:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for first, second, _ in found:
        a, b = root(first), root(second)
        if a != b:
            earlier, later = (a, b) if order[a] <= order[b] else (b, a)
            parent[later] = earlier
    return [MinedPair(first, second, cosine, root(first)) for first, second, cosine in found]


def sample_pairs(pairs: Sequence[MinedPair], limit: int, seed: int) -> list[MinedPair]:
    """At most ``limit`` of ``pairs``, drawn with ``seed``, in their original order."""
    if limit >= len(pairs):
        return list(pairs)
    chosen = sorted(random.Random(seed).sample(range(len(pairs)), limit))
    return [pairs[index] for index in chosen]


def precision_on(pairs: Iterable[MinedPair], labels: Mapping[str, GoldLabel]) -> tuple[float, int]:
    """Share of the mined pairs with both posts labelled in ``labels`` that are one gold news story; and
    their count."""
    scored = [
        (labels[pair.first], labels[pair.second])
        for pair in pairs
        if pair.first in labels and pair.second in labels
    ]
    hits = sum(a.story == b.story and a.kind == "news" for a, b in scored)
    return (hits / len(scored) if scored else 0.0), len(scored)
