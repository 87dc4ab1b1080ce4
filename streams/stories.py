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
    article_ids: list[str] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    token_counts: Counter[str] = field(default_factory=Counter)
    # (published_at, source) of every article, oldest first: the emergence score's raw data.
    timeline: deque[tuple[datetime, str]] = field(default_factory=deque)

    @property
    def article_count(self) -> int:
        return len(self.article_ids)

    def centroid(self) -> NDArray[np.float32]:
        norm = float(np.linalg.norm(self.vector_sum))
        return (self.vector_sum / norm if norm > 0 else self.vector_sum).astype(np.float32)

    def keywords(self, count: int = KEYWORD_COUNT) -> list[str]:
        # Ties broken by the token itself so that output never depends on insertion order.
        ranked = sorted(self.token_counts.items(), key=lambda item: (-item[1], item[0]))
        return [token for token, _ in ranked[:count]]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the tracker put an article."""

    story: Story
    similarity: float
    new_story: bool


class StoryTracker:
    """Assigns articles to stories in the order it is given them (the caller fixes that order)."""

    def __init__(
        self, dimension: int, threshold: float, window: timedelta, initial_capacity: int = 1024
    ) -> None:
        self._dimension = dimension
        self._threshold = threshold
        self._window = window
        self._centroids = np.zeros((initial_capacity, dimension), dtype=np.float32)
        self._slot_owner: list[str | None] = [None] * initial_capacity
        self._occupied = np.zeros(initial_capacity, dtype=bool)
        self._free_slots = list(range(initial_capacity - 1, -1, -1))
        self._stories: dict[str, Story] = {}
        self._last_expiry: datetime | None = None

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
    ) -> Placement:
        """Join the nearest active story at or above the threshold, or open a new one."""
        story, similarity = self._nearest(vector)
        new_story = story is None or similarity < self._threshold
        if new_story:
            story = self._open(article_id, published_at, headline)
            similarity = 0.0
        assert story is not None
        story.vector_sum += vector
        self._centroids[story.slot] = story.centroid()
        story.article_ids.append(article_id)
        story.sources[source] += 1
        story.token_counts.update(tokens)
        story.timeline.append((published_at, source))
        story.last_seen = max(story.last_seen, published_at)
        return Placement(story=story, similarity=similarity, new_story=new_story)

    def expire(self, now: datetime) -> list[Story]:
        """Close the stories that got nothing within the window before ``now``; return them."""
        cutoff = now - self._window
        closed = [story for story in self._stories.values() if story.last_seen < cutoff]
        for story in closed:
            del self._stories[story.story_id]
            self._centroids[story.slot] = 0.0
            self._slot_owner[story.slot] = None
            self._occupied[story.slot] = False
            self._free_slots.append(story.slot)
        return closed

    def _nearest(self, vector: NDArray[np.float32]) -> tuple[Story | None, float]:
        if not self._stories:
            return None, 0.0
        # Free slots hold zero vectors (similarity 0); mask them so a negative cosine cannot lose to them.
        similarities = np.where(self._occupied, self._centroids @ vector, -np.inf)
        slot = int(np.argmax(similarities))
        owner = self._slot_owner[slot]
        if owner is None:
            return None, 0.0
        return self._stories[owner], float(similarities[slot])

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
        self._slot_owner.extend([None] * capacity)
        self._occupied = np.concatenate([self._occupied, np.zeros(capacity, dtype=bool)])
        self._free_slots.extend(range(2 * capacity - 1, capacity - 1, -1))
