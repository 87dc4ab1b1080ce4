"""Online story clustering: each article joins the most similar active story or opens a new one.

Single-pass clustering against story centroids (the classic TDT approach), over the stories active within
an event-time window. Centroids live in one matrix so that finding the nearest story is one matrix-vector
product; a story that received nothing for ``window`` closes and leaves the matrix.
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

MAX_SNAPSHOT_IDS = 100
KEYWORD_COUNT = 8


def story_id_for(first_article_id: str) -> str:
    """Stable story id derived from the article that opened it, so replays give the same ids."""
    return "s-" + hashlib.sha1(first_article_id.encode("utf-8")).hexdigest()[:16]


@dataclass
class Story:
    """The state of one story; mutated only by ``StoryTracker``."""

    story_id: str
    slot: int
    first_seen: datetime
    last_seen: datetime
    headline: str
    vector_sum: NDArray[np.float32]
    lexical_sum: NDArray[np.float32] | None = None
    article_ids: list[str] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    token_counts: Counter[str] = field(default_factory=Counter)
    # (published_at, source) of every article, oldest first: the emergence score's raw data.
    timeline: deque[tuple[datetime, str]] = field(default_factory=deque)
    # (headline, vector) of the first articles, to name the story by its most central post.
    members: list[tuple[str, NDArray[np.float32]]] = field(default_factory=list)

    @property
    def article_count(self) -> int:
        return len(self.article_ids)

    def centroid(self) -> NDArray[np.float32]:
        norm = float(np.linalg.norm(self.vector_sum))
        return (self.vector_sum / norm if norm > 0 else self.vector_sum).astype(np.float32)

    def central_headline(self) -> str:
        """The headline of the member closest to the centroid (the first article's on ties)."""
        if not self.members:
            return self.headline
        centroid = self.centroid()
        scores = [float(vector @ centroid) for _, vector in self.members]
        return self.members[int(np.argmax(scores))][0]

    def keywords(self, count: int = KEYWORD_COUNT) -> list[str]:
        # Ties broken by the token itself so that output never depends on insertion order.
        ranked = sorted(self.token_counts.items(), key=lambda item: (-item[1], item[0]))
        return [token for token, _ in ranked[:count]]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the tracker put an article."""

    story: Story
    similarity: float  # the joining score (see StoryTracker); 0 when the article opened the story
    new_story: bool


MAX_MEMBERS = 20


class StoryTracker:
    """Assigns articles to stories in the order it is given them (the caller fixes that order).

    The joining score of an article and a story combines two pieces of evidence, each measured from its
    own threshold: dense ``(cos - threshold) / (1 - threshold)`` and, when lexical vectors are given,
    lexical ``(cos - lexical_threshold) / (1 - lexical_threshold)``, weighted by ``lexical_weight``. The
    article joins the best story when the score is >= 0. With ``lexical_weight`` 0 this is plain
    single-pass clustering on the dense cosine.
    """

    def __init__(
        self,
        dimension: int,
        threshold: float,
        window: timedelta,
        initial_capacity: int = 1024,
        lexical_dimension: int = 0,
        lexical_weight: float = 0.0,
        lexical_threshold: float = 0.2,
        center: bool = False,
        neighbors: int = 0,
    ) -> None:
        self._dimension = dimension
        self._threshold = threshold
        self._window = window
        self._lexical_weight = lexical_weight if lexical_dimension else 0.0
        self._lexical_threshold = lexical_threshold
        # Per slot: the story's unit centroid, or with ``center`` its mean vector (cosines are then taken
        # after subtracting the mean of every article seen, which removes the direction all texts share
        # and keeps large stories' centroids from attracting everything).
        self._centroids = np.zeros((initial_capacity, dimension), dtype=np.float32)
        # Squared norm of each centroid row, kept in step with it (the centered cosine needs it per query).
        self._squared = np.zeros(initial_capacity, dtype=np.float32)
        self._center = center
        self._total = np.zeros(dimension, dtype=np.float64)
        self._count = 0
        self._lexical = np.zeros((initial_capacity, lexical_dimension), dtype=np.float32)
        self._slot_owner: list[str | None] = [None] * initial_capacity
        self._occupied = np.zeros(initial_capacity, dtype=bool)
        self._free_slots = list(range(initial_capacity - 1, -1, -1))
        self._stories: dict[str, Story] = {}
        # The most recent ``neighbors`` articles (a ring): a story also scores as well as its best recent
        # member, so that a large story whose coverage moves on keeps its follow-ups (centroids alone
        # fragment big stories).
        self._neighbors = neighbors
        self._recent_dense = np.zeros((neighbors, dimension), dtype=np.float32)
        self._recent_lexical = np.zeros((neighbors, lexical_dimension if neighbors else 0), dtype=np.float32)
        self._recent_story: list[str | None] = [None] * neighbors
        self._recent_next = 0

    @property
    def active_count(self) -> int:
        return len(self._stories)

    def get(self, story_id: str) -> Story | None:
        return self._stories.get(story_id)

    def place(
        self,
        article_id: str,
        published_at: datetime,
        source: str,
        headline: str,
        tokens: tuple[str, ...] | list[str],
        vector: NDArray[np.float32],
        lexical: NDArray[np.float32] | None = None,
    ) -> Placement:
        """Join the best-scoring active story when its joining score is >= 0, or open a new one."""
        story, score = self._best(vector, lexical)
        new_story = story is None or score < 0.0
        if new_story:
            story = self._open(article_id, published_at, headline)
            score = 0.0
        assert story is not None
        story.vector_sum += vector
        count = story.article_count + 1
        self._centroids[story.slot] = story.vector_sum / count if self._center else story.centroid()
        self._squared[story.slot] = float(self._centroids[story.slot] @ self._centroids[story.slot])
        self._total += vector
        self._count += 1
        if lexical is not None and self._lexical.shape[1]:
            story.lexical_sum = lexical.copy() if story.lexical_sum is None else story.lexical_sum + lexical
            norm = float(np.linalg.norm(story.lexical_sum))
            self._lexical[story.slot] = story.lexical_sum / norm if norm > 0 else story.lexical_sum
        story.article_ids.append(article_id)
        story.sources[source] += 1
        story.token_counts.update(tokens)
        story.timeline.append((published_at, source))
        story.last_seen = max(story.last_seen, published_at)
        if len(story.members) < MAX_MEMBERS:
            story.members.append((headline, vector))
        if self._neighbors:
            self._remember(story.story_id, vector, lexical)
        return Placement(story=story, similarity=score, new_story=new_story)

    def expire(self, now: datetime) -> list[Story]:
        """Close the stories that got nothing within the window before ``now``; return them."""
        cutoff = now - self._window
        closed = [story for story in self._stories.values() if story.last_seen < cutoff]
        for story in closed:
            del self._stories[story.story_id]
            self._centroids[story.slot] = 0.0
            self._squared[story.slot] = 0.0
            self._lexical[story.slot] = 0.0
            self._slot_owner[story.slot] = None
            self._occupied[story.slot] = False
            self._free_slots.append(story.slot)
        return closed

    def _remember(
        self, story_id: str, vector: NDArray[np.float32], lexical: NDArray[np.float32] | None
    ) -> None:
        index = self._recent_next % self._neighbors
        self._recent_dense[index] = self._centered_unit(vector)
        if lexical is not None and self._recent_lexical.shape[1]:
            self._recent_lexical[index] = lexical
        self._recent_story[index] = story_id
        self._recent_next += 1

    def _centered_unit(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        if not self._center or self._count == 0:
            return vector
        centered = vector - (self._total / self._count).astype(np.float32)
        norm = float(np.linalg.norm(centered))
        return centered / norm if norm > 0 else centered

    def _neighbor_scores(
        self, vector: NDArray[np.float32], lexical: NDArray[np.float32] | None
    ) -> NDArray[np.float32]:
        """Per slot, the joining score of its best recent member (-inf where it has none)."""
        best = np.full(len(self._slot_owner), -np.inf, dtype=np.float32)
        filled = min(self._recent_next, self._neighbors)
        if not filled:
            return best
        dense = (self._recent_dense[:filled] @ self._centered_unit(vector) - self._threshold) / (
            1.0 - self._threshold
        )
        scores = dense
        if self._lexical_weight and lexical is not None and self._recent_lexical.shape[1]:
            neutral = self._lexical_threshold
            lexical_scores = (self._recent_lexical[:filled] @ lexical - neutral) / (1.0 - neutral)
            scores = (1.0 - self._lexical_weight) * dense + self._lexical_weight * lexical_scores
        for index in range(filled):
            story = self._stories.get(self._recent_story[index] or "")
            if story is not None and scores[index] > best[story.slot]:
                best[story.slot] = scores[index]
        return best

    def _dense_cosines(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        if not self._center or self._count == 0:
            return np.asarray(self._centroids @ vector, dtype=np.float32)
        mean = (self._total / self._count).astype(np.float32)
        query = vector - mean
        query_norm = float(np.linalg.norm(query)) or 1.0
        # (m - mean) . query / (|m - mean| |query|), from two matrix-vector products.
        dots = self._centroids @ query
        norms = np.sqrt(
            np.maximum(self._squared - 2.0 * (self._centroids @ mean) + float(mean @ mean), 1e-12)
        )
        return np.asarray(dots / (norms * query_norm), dtype=np.float32)

    def _best(
        self, vector: NDArray[np.float32], lexical: NDArray[np.float32] | None
    ) -> tuple[Story | None, float]:
        if not self._stories:
            return None, 0.0
        scores = (self._dense_cosines(vector) - self._threshold) / (1.0 - self._threshold)
        if self._lexical_weight and lexical is not None:
            lexical_scores = (self._lexical @ lexical - self._lexical_threshold) / (
                1.0 - self._lexical_threshold
            )
            scores = (1.0 - self._lexical_weight) * scores + self._lexical_weight * lexical_scores
        if self._neighbors:
            scores = np.maximum(scores, self._neighbor_scores(vector, lexical))
        # Free slots hold zero vectors; mask them so that they never win.
        scores = np.where(self._occupied, scores, -np.inf)
        slot = int(np.argmax(scores))
        owner = self._slot_owner[slot]
        if owner is None:
            return None, 0.0
        return self._stories[owner], float(scores[slot])

    def _open(self, article_id: str, published_at: datetime, headline: str) -> Story:
        if not self._free_slots:
            self._grow()
        slot = self._free_slots.pop()
        story = Story(
            story_id=story_id_for(article_id),
            slot=slot,
            first_seen=published_at,
            last_seen=published_at,
            headline=headline,
            vector_sum=np.zeros(self._dimension, dtype=np.float32),
        )
        self._stories[story.story_id] = story
        self._slot_owner[slot] = story.story_id
        self._occupied[slot] = True
        return story

    def _grow(self) -> None:
        capacity = len(self._slot_owner)
        self._centroids = np.vstack([self._centroids, np.zeros_like(self._centroids)])
        self._squared = np.concatenate([self._squared, np.zeros_like(self._squared)])
        self._lexical = np.vstack([self._lexical, np.zeros_like(self._lexical)])
        self._slot_owner.extend([None] * capacity)
        self._occupied = np.concatenate([self._occupied, np.zeros(capacity, dtype=bool)])
        self._free_slots.extend(range(2 * capacity - 1, capacity - 1, -1))
