"""One story's state: its members' sums, sources, timeline and the texts that name it."""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_array, encode_array
from streams.core.sparse import EMPTY_SPARSE, SparseVector, sparse_add

MAX_SNAPSHOT_IDS = 100
KEYWORD_COUNT = 8


def story_id_for(first_article_id: str) -> str:
    """Stable story id derived from the article that opened it, so replays give the same ids."""
    return "s-" + hashlib.sha1(first_article_id.encode("utf-8")).hexdigest()[:16]


@dataclass
class Story:
    """The state of one story: what its articles add up to. Mutated only by ``StoryTracker``; where the
    tracker keeps it (hot row, cold ticket) is the index's bookkeeping, not the story's."""

    story_id: str
    first_seen: datetime
    last_seen: datetime
    headline: str
    vector_sum: NDArray[np.float32]
    # Sum of the members' unit TF-IDF vectors, sparse.
    lexical: SparseVector = EMPTY_SPARSE
    article_ids: list[str] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)
    token_counts: Counter[str] = field(default_factory=Counter)
    # (published_at, source) of every article, oldest first: the emergence score's raw data.
    timeline: deque[tuple[datetime, str]] = field(default_factory=deque)
    # (headline, vector) of the first articles, to name the story by its most central post.
    members: list[tuple[str, NDArray[np.float32]]] = field(default_factory=list)
    # Tracker-wide number of the last update: orders expiry among stories last seen at the same instant.
    sequence: int = 0
    # ``keywords()``'s ranking kept up to date by ``add_tokens`` (not state: rebuilt on demand). Valid only
    # while ``_ranked_at`` is the article count, so a change made without ``add_tokens`` is never served.
    _ranked: list[str] | None = field(default=None, init=False, repr=False, compare=False)
    _ranked_at: int = field(default=-1, init=False, repr=False, compare=False)

    @property
    def article_count(self) -> int:
        return len(self.article_ids)

    def mean(self) -> NDArray[np.float32]:
        return (self.vector_sum / max(self.article_count, 1)).astype(np.float32)

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

    def to_state(self) -> dict[str, Any]:
        return {
            "story_id": self.story_id,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "headline": self.headline,
            "vector_sum": encode_array(self.vector_sum),
            "lexical": [encode_array(self.lexical[0]), encode_array(self.lexical[1])],
            "article_ids": list(self.article_ids),
            "sources": dict(self.sources),
            "token_counts": dict(self.token_counts),
            "timeline": [[moment.isoformat(), source] for moment, source in self.timeline],
            "members": [[headline, encode_array(vector)] for headline, vector in self.members],
            "sequence": self.sequence,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Story:
        return cls(
            story_id=state["story_id"],
            first_seen=datetime.fromisoformat(state["first_seen"]),
            last_seen=datetime.fromisoformat(state["last_seen"]),
            headline=state["headline"],
            vector_sum=decode_array(state["vector_sum"]),
            lexical=(decode_array(state["lexical"][0]), decode_array(state["lexical"][1])),
            article_ids=list(state["article_ids"]),
            sources=Counter(state["sources"]),
            token_counts=Counter(state["token_counts"]),
            timeline=deque((datetime.fromisoformat(moment), source) for moment, source in state["timeline"]),
            members=[(headline, decode_array(vector)) for headline, vector in state["members"]],
            sequence=state["sequence"],
        )

    def absorb(self, other: Story) -> None:
        """Add ``other``'s articles to this story (a merge: both turned out to tell one event). The ids and
        the timeline stay in event-time order (this story's first on ties), so that the alert's first ids
        and the emergence score read as if the articles had joined this story one by one."""
        self.vector_sum = self.vector_sum + other.vector_sum
        self.lexical = sparse_add(self.lexical, other.lexical)
        mine = zip(self.timeline, self.article_ids, strict=True)
        theirs = zip(other.timeline, other.article_ids, strict=True)
        merged = sorted([*mine, *theirs], key=lambda entry: entry[0][0])
        self.timeline = deque(moment for moment, _ in merged)
        self.article_ids = [article_id for _, article_id in merged]
        self.sources.update(other.sources)
        self.token_counts.update(other.token_counts)
        self._ranked = None  # the keyword ranking is rebuilt from the merged counts
        self.first_seen = min(self.first_seen, other.first_seen)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.members = (self.members + other.members)[:MAX_MEMBERS]

    def add_tokens(self, tokens: Sequence[str]) -> None:
        """Count the tokens of the article just appended to ``article_ids``.

        Counts only grow, so a token outside the top ``KEYWORD_COUNT`` that this article does not name
        stays behind all of them: the new top is among the old top and this article's tokens.
        """
        counts = self.token_counts
        counts.update(tokens)
        if self._ranked is None or self._ranked_at != self.article_count - 1:
            self._ranked = None
            return
        contenders = [(token, counts[token]) for token in self._ranked]
        if len(contenders) == KEYWORD_COUNT:
            # A token ranked behind every old top token (now counted anew) cannot enter: skip it early.
            last, least = max(contenders, key=lambda item: (-item[1], item[0]))
            for token in set(tokens).difference(self._ranked):
                count = counts[token]
                if count > least or (count == least and token < last):
                    contenders.append((token, count))
        else:
            contenders.extend((token, counts[token]) for token in set(tokens).difference(self._ranked))
        self._ranked = _top_tokens(contenders, KEYWORD_COUNT)
        self._ranked_at = self.article_count

    def keywords(self, count: int = KEYWORD_COUNT) -> list[str]:
        if count == KEYWORD_COUNT and self._ranked is not None and self._ranked_at == self.article_count:
            return list(self._ranked)
        ranked = _top_tokens(self.token_counts.items(), count)
        if count == KEYWORD_COUNT:
            self._ranked, self._ranked_at = ranked, self.article_count
        return list(ranked)


def _top_tokens(counted: Iterable[tuple[str, int]], count: int) -> list[str]:
    """The ``count`` most frequent of the (token, count) pairs; ties broken by the token itself so that
    output never depends on insertion order."""
    ranked = heapq.nsmallest(count, counted, key=lambda item: (-item[1], item[0]))
    return [token for token, _ in ranked]


# Members kept to name the story by its most central post.
MAX_MEMBERS = 20
