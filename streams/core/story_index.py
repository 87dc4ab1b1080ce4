"""Where the story tracker keeps active stories so that finding the best one costs the same at any scale.

Two tiers:

- ``HotTier``: the ``capacity`` most recently updated stories, scored exactly against every article (one
  dense matrix-vector product over their centroids, and a lexical product over only the article's
  non-zero TF-IDF dimensions). News attention is recent: almost every article joins a story that was
  updated lately, and with fewer active stories than ``capacity`` this tier holds them all.
- ``ColdIndex``: active stories that fell out of the hot tier, reachable through an inverted index over
  their strongest TF-IDF features. An article looks up its own strongest features, and the few cold stories
  sharing most weight with it are scored exactly; one that wins comes back into the hot tier.

Per-article cost is bounded by ``capacity`` plus the posting lists of a few features, not by the number of
active stories. Everything is deterministic: ties break by row or ticket order, which follow input order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_array, encode_array
from streams.core.sparse import SparseVector


class IndexedStory(Protocol):
    """What the index reads of a story (``streams.core.story.Story``). Where it keeps a story (a row or a
    ticket) is the index's own bookkeeping, by story id."""

    @property
    def story_id(self) -> str: ...

    @property
    def lexical(self) -> SparseVector: ...

    def mean(self) -> NDArray[np.float32]: ...

    def centroid(self) -> NDArray[np.float32]: ...


class HotTier[S: IndexedStory]:
    """A fixed number of rows, one story each, with the matrices that score them all at once.

    Dense rows hold each story's unit centroid, or with ``centered`` its mean vector (the caller subtracts
    the stream's mean, see ``dense_cosines``). Lexical sums are stored transposed (dimension x row) so that
    scoring gathers only the rows of the article's non-zero dimensions.
    """

    def __init__(self, capacity: int, dimension: int, lexical_dimension: int, centered: bool) -> None:
        self.capacity = capacity
        self._centered = centered
        self._dense = np.zeros((capacity, dimension), dtype=np.float32)
        self._dense_squared = np.zeros(capacity, dtype=np.float32)
        self._lexical = np.zeros((lexical_dimension, capacity), dtype=np.float32)
        self._lexical_norm = np.zeros(capacity, dtype=np.float32)
        self._owner: list[S | None] = [None] * capacity
        self._row_of: dict[str, int] = {}
        self.occupied = np.zeros(capacity, dtype=bool)
        # Update tick per row: the least recently updated story leaves first.
        self._touched = np.zeros(capacity, dtype=np.int64)
        self._tick = 0
        self._free = list(range(capacity - 1, -1, -1))
        # Rows at and above ``span`` were never used: scoring skips them (free rows are taken lowest first).
        self.span = 0

    def to_state(self) -> dict[str, Any]:
        """Row bookkeeping (which story holds which row: ``row_of``, saved with the stories)."""
        return {"touched": encode_array(self._touched), "tick": self._tick, "free": list(self._free)}

    def load_state(self, state: dict[str, Any], placed: Sequence[tuple[int, S]]) -> None:
        """Restore from ``to_state`` and the (row, story) pairs ``row_of`` gave."""
        for row, story in placed:
            self._occupy(row, story)
        self._touched = decode_array(state["touched"])
        self._tick = state["tick"]
        self._free = list(state["free"])

    def owner(self, row: int) -> S | None:
        return self._owner[row]

    def holds(self, story: S) -> bool:
        return story.story_id in self._row_of

    def row_of(self, story: S) -> int:
        """The story's row, -1 when it is not in this tier."""
        return self._row_of.get(story.story_id, -1)

    def admit(self, story: S) -> S | None:
        """Give ``story`` a row (its sums already final); return the story evicted to make room, if any."""
        evicted: S | None = None
        if not self._free:
            stamps = np.where(self.occupied, self._touched, np.iinfo(np.int64).max)
            evicted = self._owner[int(np.argmin(stamps))]
            assert evicted is not None
            self.remove(evicted)
        self._occupy(self._free.pop(), story)
        return evicted

    def _occupy(self, row: int, story: S) -> None:
        self.span = max(self.span, row + 1)
        self._owner[row] = story
        self._row_of[story.story_id] = row
        self.occupied[row] = True
        indices, values = story.lexical
        if len(indices) and self._lexical.shape[0]:
            self._lexical[indices, row] = values
        self._refresh(story, row)

    def grow_story(self, story: S, lexical: SparseVector | None) -> None:
        """``story`` (already in a row) just got an article whose lexical vector is ``lexical``."""
        row = self._row_of[story.story_id]
        if lexical is not None and len(lexical[0]) and self._lexical.shape[0]:
            self._lexical[lexical[0], row] += lexical[1]
        self._refresh(story, row)

    def remove(self, story: S) -> None:
        row = self._row_of.pop(story.story_id)
        indices = story.lexical[0]
        if len(indices) and self._lexical.shape[0]:
            self._lexical[indices, row] = 0.0
        self._dense[row] = 0.0
        self._dense_squared[row] = 0.0
        self._lexical_norm[row] = 0.0
        self._owner[row] = None
        self.occupied[row] = False
        self._free.append(row)

    def _refresh(self, story: S, row: int) -> None:
        self._dense[row] = story.mean() if self._centered else story.centroid()
        self._dense_squared[row] = float(self._dense[row] @ self._dense[row])
        values = story.lexical[1]
        self._lexical_norm[row] = float(np.sqrt(values @ values)) if len(values) else 0.0
        self._tick += 1
        self._touched[row] = self._tick

    def dense_cosines(
        self, query: NDArray[np.float32], mean: NDArray[np.float32] | None
    ) -> NDArray[np.float32]:
        """Cosine of ``query`` with rows [0, span); with ``mean``, the centered similarity described below."""
        dense = self._dense[: self.span]
        if mean is None:
            return np.asarray(dense @ query, dtype=np.float32)
        centered = query - mean
        query_norm = float(np.linalg.norm(centered)) or 1.0
        # m . (q - mean) / (|m - mean| |q - mean|), from two matrix-vector products. The numerator is the
        # centered dot (m - mean) . (q - mean) plus mean . (q - mean), a term equal for every story that,
        # divided by |m - mean|, favours stories whose mean sits near the stream's: large, averaged ones.
        # Measured, not derived: the exactly centered cosine fragments big stories more (pairwise F1 on
        # 2026-06-24 0.436 -> 0.348, docs/EVALUATION.md).
        dots = dense @ centered
        squared = self._dense_squared[: self.span] - 2.0 * (dense @ mean) + float(mean @ mean)
        # A row at the mean itself has no direction (and float32 cancellation leaves noise): cosine 0.
        cosines = np.where(squared > 1e-10, dots / (np.sqrt(np.maximum(squared, 1e-10)) * query_norm), 0.0)
        return np.asarray(cosines, dtype=np.float32)

    def lexical_cosines(self, lexical: SparseVector) -> NDArray[np.float32]:
        """Cosine of the unit sparse vector ``lexical`` with the lexical sums of rows [0, span)."""
        indices, values = lexical
        if not len(indices):
            return np.zeros(self.span, dtype=np.float32)
        dots = values @ self._lexical[indices, : self.span]
        return np.asarray(dots / np.maximum(self._lexical_norm[: self.span], 1e-12), dtype=np.float32)


class _Postings:
    """A growable (ticket, weight) list for one lexical dimension."""

    __slots__ = ("size", "tickets", "weights")

    def __init__(self) -> None:
        self.tickets = np.zeros(8, dtype=np.int64)
        self.weights = np.zeros(8, dtype=np.float32)
        self.size = 0

    def append(self, ticket: int, weight: float) -> None:
        if self.size == len(self.tickets):
            self.tickets = np.concatenate([self.tickets, np.zeros_like(self.tickets)])
            self.weights = np.concatenate([self.weights, np.zeros_like(self.weights)])
        self.tickets[self.size] = ticket
        self.weights[self.size] = weight
        self.size += 1


class ColdIndex[S: IndexedStory]:
    """Inverted index over the ``features`` strongest TF-IDF dimensions of each cold story.

    A story's entry is frozen while it is cold (a cold story gets no articles: the one that joins it moves
    it back to the hot tier and out of here). Removal is lazy: tickets of removed stories are skipped, and
    the index is rebuilt once they outnumber the live ones.
    """

    def __init__(self, features: int = 16, centered: bool = False) -> None:
        self._features = features
        self._centered = centered
        self._postings: dict[int, _Postings] = {}
        self._live: dict[int, S] = {}
        self._ticket_of: dict[str, int] = {}
        self._next_ticket = 0
        self._dead = 0
        # Per live story id, what exact scoring reads of it, computed once at ``add`` (a cold story is
        # frozen): its lexical norm, and its dense row as the hot tier keeps it (the mean with
        # ``centered``, else the unit centroid).
        self._lexical_norm: dict[str, float] = {}
        self._dense_row: dict[str, NDArray[np.float32]] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __iter__(self) -> Iterator[S]:
        return iter(self._live.values())

    def holds(self, story: S) -> bool:
        return story.story_id in self._ticket_of

    def ticket_of(self, story: S) -> int:
        """The story's ticket, -1 when it is not in this index."""
        return self._ticket_of.get(story.story_id, -1)

    def to_state(self) -> dict[str, Any]:
        """Ticket bookkeeping (which story holds which ticket: ``ticket_of``, saved with the stories)."""
        return {"next_ticket": self._next_ticket, "dead": self._dead}

    def load_state(self, state: dict[str, Any], placed: Sequence[tuple[int, S]]) -> None:
        """Restore from ``to_state`` and the (ticket, story) pairs ``ticket_of`` gave."""
        for ticket, story in sorted(placed, key=lambda pair: pair[0]):
            self.add(story, ticket)
        self._next_ticket = state["next_ticket"]
        self._dead = state["dead"]

    def add(self, story: S, ticket: int | None = None) -> None:
        if ticket is None:
            ticket = self._next_ticket
            self._next_ticket += 1
        self._live[ticket] = story
        self._ticket_of[story.story_id] = ticket
        if story.story_id not in self._dense_row:  # kept through a rebuild
            self._dense_row[story.story_id] = story.mean() if self._centered else story.centroid()
        indices, values = story.lexical
        if not len(indices):
            self._lexical_norm[story.story_id] = 1.0
            return
        norm = float(np.sqrt(values @ values)) or 1.0
        self._lexical_norm[story.story_id] = norm
        strongest = np.argsort(-values, kind="stable")[: self._features]
        for position in strongest:
            bucket = int(indices[position])
            postings = self._postings.get(bucket)
            if postings is None:
                postings = self._postings[bucket] = _Postings()
            postings.append(ticket, float(values[position]) / norm)

    def remove(self, story: S) -> None:
        del self._live[self._ticket_of.pop(story.story_id)]
        del self._lexical_norm[story.story_id]
        self._dense_row.pop(story.story_id, None)
        self._dead += 1
        if self._dead > len(self._live) + 1024:
            self._rebuild()

    def candidates(self, lexical: SparseVector, limit: int) -> list[S]:
        """Up to ``limit`` cold stories sharing most TF-IDF weight with the article's strongest features."""
        indices, values = lexical
        if not self._live or not len(indices):
            return []
        strongest = np.argsort(-values, kind="stable")[: self._features]
        postings_of = self._postings.get
        kept: list[_Postings] = []
        places: list[int] = []
        for place, bucket in enumerate(indices[strongest].tolist()):
            postings = postings_of(bucket)
            if postings is not None and postings.size:
                kept.append(postings)
                places.append(place)
        if not kept:
            return []
        # Each posting's weight times the article's in one float32 product (the same as one per feature).
        tickets = np.concatenate([postings.tickets[: postings.size] for postings in kept])
        scale = np.repeat(values[strongest][places], [postings.size for postings in kept])
        weights = np.concatenate([postings.weights[: postings.size] for postings in kept]) * scale
        # Summed per ticket in posting order (bincount's: the same float64 sums either way). Few postings
        # against many tickets issued: over the distinct tickets only, not a pass over every ticket.
        if len(tickets) * 16 < self._next_ticket:
            distinct, slot = np.unique(tickets, return_inverse=True)
            sums = np.bincount(slot, weights)
            positive = sums > 0
            ranked, overlap = distinct[positive], sums[positive]
        else:
            sums = np.bincount(tickets, weights, minlength=self._next_ticket)
            ranked = np.flatnonzero(sums > 0)
            overlap = sums[ranked]
        if len(ranked) > limit * 4:
            chosen = np.argpartition(-overlap, limit * 4)[: limit * 4]
            ranked, overlap = ranked[chosen], overlap[chosen]
        # Highest overlap first, then oldest ticket: deterministic.
        order = ranked[np.lexsort((ranked, -overlap))].tolist()
        found: list[S] = []
        for ticket in order:
            story = self._live.get(ticket)
            if story is not None:  # None: removed since (removal is lazy)
                found.append(story)
                if len(found) == limit:
                    break
        return found

    def dense_rows(self, stories: Sequence[S]) -> NDArray[np.float32]:
        """The dense rows of cold ``stories``, stacked (see ``centered``)."""
        return np.stack([self._dense_row[story.story_id] for story in stories])

    def lexical_norm(self, story: S) -> float:
        """The norm of a cold story's lexical sum (1 when it has none), as ``add`` measured it."""
        return self._lexical_norm[story.story_id]

    def _rebuild(self) -> None:
        stories = list(self._live.values())
        self._postings = {}
        self._live = {}
        self._ticket_of = {}
        self._next_ticket = 0
        self._dead = 0
        self._lexical_norm = {}
        for story in stories:
            self.add(story)
