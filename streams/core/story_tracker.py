"""Where an article goes: each article joins the most similar active story or opens a new one.

Single-pass clustering against story centroids (the classic TDT approach), over the stories active within
an event-time window, with an index that keeps the cost per article flat as stories accumulate
(``streams/core/story_index.py``); a story that received nothing for ``window`` closes and is forgotten.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_array, encode_array
from streams.core.sparse import EMPTY_SPARSE, SparseVector, sparse_add, sparse_of
from streams.core.story import MAX_MEMBERS, Story, story_id_for
from streams.core.story_index import ColdIndex, HotTier
from streams.core.story_linking import CANDIDATES, FEATURES, CandidateEvidence, StoryLinker, link_features


def _rounded(row: NDArray[np.float64]) -> tuple[float, ...]:
    """Feature values as they travel (six decimals: what the records and the training data hold)."""
    return tuple(round(float(value), 6) for value in row)


def _best_rows(scores: NDArray[np.float32], limit: int) -> list[int]:
    """The indices of the ``limit`` highest scores, highest first, ties in index order: the head of a
    stable descending sort, without sorting every score."""
    if len(scores) <= limit:
        return [int(row) for row in np.argsort(-scores, kind="stable")]
    cutoff = np.partition(scores, len(scores) - limit)[len(scores) - limit]  # the limit-th highest
    above = np.flatnonzero(scores > cutoff)
    tied = np.flatnonzero(scores == cutoff)[: limit - len(above)]
    chosen = np.sort(np.concatenate([above, tied]))
    return [int(row) for row in chosen[np.argsort(-scores[chosen], kind="stable")]]


@dataclass(frozen=True, slots=True)
class LinkDecision:
    """What the learned linker made of an article's most probable candidate story."""

    candidate: str  # that story's id: joined when ``probability >= threshold``, else the article opened one
    probability: float
    threshold: float
    features: dict[str, float]
    # Other candidate stories the linker also placed the article in, with ``merge_probability`` or more:
    # (story id, probability), merged with the joined one (see StoryTracker).
    merged: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the tracker put an article."""

    story: Story
    similarity: float  # the rule's joining score (see StoryTracker); 0 when the article opened the story
    new_story: bool
    link: LinkDecision | None = None  # with a linker: why it joined or opened
    # With ``describe``: each candidate story's id and ``FEATURES`` row, best rule score first.
    candidates: tuple[tuple[str, tuple[float, ...]], ...] = ()
    # Stories merged into ``story`` by this article (closed; their articles are ``story``'s now).
    absorbed: tuple[Story, ...] = ()


class StoryTracker:
    """Assigns articles to stories in the order it is given them (the caller fixes that order).

    The joining score of an article and a story combines two pieces of evidence, each measured from its
    own threshold: dense ``(cos - threshold) / (1 - threshold)`` and, when lexical vectors are given,
    lexical ``(cos - lexical_threshold) / (1 - lexical_threshold)``, weighted by ``lexical_weight``. The
    article joins the best story when the score is >= 0. With ``lexical_weight`` 0 this is plain
    single-pass clustering on the dense cosine. With a ``linker`` (``streams/core/story_linking.py``) the
    rule only proposes: the linker weighs the rule's best few candidates on story-level features and decides.
    ``describe`` computes those features under the rule too (what the linker is trained on).

    Merges (with a linker and ``merge_probability``): when the article joins a story and the linker gives
    another candidate story ``merge_probability`` or more as well, the article is evidence that the two tell
    one event, told apart so far because their first articles differed. They merge into the older story
    (earliest first article; its id stays), which then holds both stories' articles, and the article joins it.

    Active stories live in a ``HotTier`` of the ``hot_stories`` most recently updated ones, scored exactly,
    and a ``ColdIndex`` for the rest (see ``streams/core/story_index.py``), so the cost per article does not
    grow with the number of active stories. State is bounded by the window: a story that got nothing for
    ``window`` closes and is forgotten.
    """

    def __init__(
        self,
        dimension: int,
        threshold: float,
        window: timedelta,
        hot_stories: int = 1024,
        lexical_dimension: int = 0,
        lexical_weight: float = 0.0,
        lexical_threshold: float = 0.2,
        center: bool = False,
        neighbors: int = 0,
        cold_candidates: int = 16,
        linker: StoryLinker | None = None,
        describe: bool = False,
        merge_probability: float | None = None,
    ) -> None:
        self._dimension = dimension
        self._linker = linker
        self._merge_probability = merge_probability if linker is not None else None
        # Candidates are weighed on features with a linker, or described for training (``describe``).
        self._describe = describe
        self._weigh = describe or linker is not None
        self._threshold = threshold
        self._window = window
        self._lexical_dimension = lexical_dimension
        self._lexical_weight = lexical_weight if lexical_dimension else 0.0
        self._lexical_threshold = lexical_threshold
        # With ``center``, dense cosines are taken after subtracting the mean of every article seen, which
        # removes the direction all texts share and keeps large stories' centroids from attracting everything.
        self._center = center
        self._total = np.zeros(dimension, dtype=np.float64)
        self._count = 0
        # Every story of the last ``neighbors`` placements must still be hot for neighbour linking.
        self._hot: HotTier[Story] = HotTier(
            max(hot_stories, neighbors, 1), dimension, lexical_dimension, center
        )
        self._cold: ColdIndex[Story] = ColdIndex(centered=center)
        self._cold_candidates = cold_candidates
        self._stories: dict[str, Story] = {}
        # (last_seen, sequence, story id) per update, earliest first: expiry pops instead of scanning.
        # Entries of stories updated since are stale and skipped.
        self._expiry: list[tuple[datetime, int, str]] = []
        self._sequence = 0
        # The most recent ``neighbors`` articles (a ring): a story also scores as well as its best recent
        # member, so that a large story whose coverage moves on keeps its follow-ups (centroids alone
        # fragment big stories). Lexical vectors are stored transposed, like the hot tier's.
        self._neighbors = neighbors
        self._recent_dense = np.zeros((neighbors, dimension), dtype=np.float32)
        self._recent_lexical = np.zeros((lexical_dimension if neighbors else 0, neighbors), dtype=np.float32)
        self._recent_indices: list[NDArray[np.int64]] = [EMPTY_SPARSE[0]] * neighbors
        # Hot row of each recent article's story; -1 once that story left the hot tier or closed.
        self._recent_row = np.full(neighbors, -1, dtype=np.int64)
        self._recent_next = 0

    @property
    def active_count(self) -> int:
        return len(self._stories)

    @property
    def hot_count(self) -> int:
        return int(self._hot.occupied.sum())

    def get(self, story_id: str) -> Story | None:
        return self._stories.get(story_id)

    def hot_row(self, story: Story) -> int:
        """The hot-tier row that holds ``story``; -1 when it is cold or closed."""
        return self._hot.row_of(story)

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
        """Join the story ``_decide`` picks among the best-scoring active ones, or open a new one.

        ``lexical`` is the article's unit TF-IDF vector (dense; only its non-zero dimensions are used).
        """
        sparse = sparse_of(lexical) if lexical is not None and self._lexical_dimension else None
        candidates = self._candidates(vector, sparse, lexical, CANDIDATES if self._weigh else 1)
        story, score, link, described, merging = self._decide(candidates, published_at, source, tokens)
        new_story = story is None
        absorbed: list[Story] = []
        moved_rows: list[int] = []
        if new_story:
            story = self._open(article_id, published_at, headline)
            score = 0.0
        elif merging:
            assert story is not None
            story, absorbed, moved_rows = self._merge([story, *merging])
        assert story is not None
        story.vector_sum += vector
        story.article_ids.append(article_id)
        if sparse is not None:
            story.lexical = sparse_add(story.lexical, sparse)
        self._total += vector
        self._count += 1
        if self._hot.holds(story):
            self._hot.grow_story(story, sparse)
        else:
            if self._cold.holds(story):
                self._cold.remove(story)
            evicted = self._hot.admit(story)
            if evicted is not None:
                # The evicted story's row is the one ``story`` now holds: its recent members stop linking.
                self._forget_recent_row(self._hot.row_of(story))
                self._cold.add(evicted)
        if moved_rows:
            # The merged stories' recent members now link to the survivor's row.
            self._recent_row[np.isin(self._recent_row, moved_rows)] = self._hot.row_of(story)
        story.sources[source] += 1
        story.add_tokens(tokens)
        story.timeline.append((published_at, source))
        story.last_seen = max(story.last_seen, published_at)
        self._sequence += 1
        story.sequence = self._sequence
        heapq.heappush(self._expiry, (story.last_seen, self._sequence, story.story_id))
        if len(story.members) < MAX_MEMBERS:
            story.members.append((headline, vector))
        if self._neighbors:
            self._remember(self._hot.row_of(story), vector, sparse)
        return Placement(
            story=story,
            similarity=score,
            new_story=new_story,
            link=link,
            candidates=described,
            absorbed=tuple(absorbed),
        )

    def _merge(self, stories: list[Story]) -> tuple[Story, list[Story], list[int]]:
        """Merge ``stories`` into the oldest; return it, the absorbed ones and the hot rows they all held.

        Every one leaves the index first (its sums change), so the survivor is admitted again afterwards."""
        ordered = sorted(stories, key=lambda story: (story.first_seen, story.story_id))
        survivor, absorbed = ordered[0], ordered[1:]
        rows: list[int] = []
        for story in ordered:
            row = self._hot.row_of(story)
            if row >= 0:
                rows.append(row)
                self._hot.remove(story)
            elif self._cold.holds(story):
                self._cold.remove(story)
        for story in absorbed:
            survivor.absorb(story)
            del self._stories[story.story_id]
        return survivor, absorbed, rows

    def _decide(
        self,
        candidates: list[CandidateEvidence],
        published_at: datetime,
        source: str,
        tokens: tuple[str, ...] | list[str],
    ) -> tuple[
        Story | None, float, LinkDecision | None, tuple[tuple[str, tuple[float, ...]], ...], list[Story]
    ]:
        """The story to join (None: open one) and its rule score, the linker's reasons, the described
        candidates, the other stories to merge with it. Under the rule: the best candidate when its score
        is >= 0. With a linker: the most probable candidate when its probability reaches the linker's
        threshold (and every other candidate reaching ``merge_probability`` merges with it)."""
        if not candidates:
            return None, 0.0, None, (), []
        if not self._weigh:
            best = candidates[0]
            return (best.story if best.rule_score >= 0.0 else None), best.rule_score, None, (), []
        features = link_features(candidates, published_at, source, tokens)
        described: tuple[tuple[str, tuple[float, ...]], ...] = ()
        if self._describe:
            described = tuple(
                (candidate.story.story_id, _rounded(row))
                for candidate, row in zip(candidates, features, strict=True)
            )
        if self._linker is None:
            best = candidates[0]
            return (best.story if best.rule_score >= 0.0 else None), best.rule_score, None, described, []
        probabilities = self._linker.probabilities(features)
        chosen = int(np.argmax(probabilities))
        probability = round(float(probabilities[chosen]), 6)
        joins = probability >= self._linker.threshold
        merging: list[tuple[Story, float]] = []
        if joins and self._merge_probability is not None:
            merging = [
                (candidate.story, round(float(other), 6))
                for index, (candidate, other) in enumerate(zip(candidates, probabilities, strict=True))
                if index != chosen and other >= self._merge_probability
            ]
        link = LinkDecision(
            candidate=candidates[chosen].story.story_id,
            probability=probability,
            threshold=self._linker.threshold,
            features=dict(zip(FEATURES, _rounded(features[chosen]), strict=True)),
            merged=tuple((story.story_id, value) for story, value in merging),
        )
        story = candidates[chosen].story if joins else None
        return story, candidates[chosen].rule_score, link, described, [story for story, _ in merging]

    def expire(self, now: datetime) -> list[Story]:
        """Close the stories that got nothing within the window before ``now``; return them."""
        cutoff = now - self._window
        closed: list[Story] = []
        while self._expiry and self._expiry[0][0] < cutoff:
            last_seen, _, story_id = heapq.heappop(self._expiry)
            story = self._stories.get(story_id)
            if story is None or story.last_seen != last_seen or story.last_seen >= cutoff:
                continue  # closed already, or updated since (a later entry stands for it)
            del self._stories[story_id]
            if self._hot.holds(story):
                self._forget_recent_row(self._hot.row_of(story))
                self._hot.remove(story)
            elif self._cold.holds(story):
                self._cold.remove(story)
            closed.append(story)
        return closed

    def to_state(self) -> dict[str, Any]:
        """Everything that decides future placements, as plain JSON (see ``load_state``)."""
        filled = min(self._recent_next, self._neighbors)
        recent_lexical = [
            [encode_array(indices), encode_array(self._recent_lexical[indices, index])]
            for index, indices in enumerate(self._recent_indices[:filled])
        ]
        return {
            "total": encode_array(self._total),
            "count": self._count,
            "sequence": self._sequence,
            # Each story with where the index keeps it (-1: not there).
            "stories": [
                {
                    **story.to_state(),
                    "row": self._hot.row_of(story),
                    "cold_ticket": self._cold.ticket_of(story),
                }
                for story in self._stories.values()
            ],
            "hot": self._hot.to_state(),
            "cold": self._cold.to_state(),
            "recent": {
                "next": self._recent_next,
                "dense": encode_array(self._recent_dense[:filled]),
                "lexical": recent_lexical if self._recent_lexical.shape[0] else [],
                "row": encode_array(self._recent_row[:filled]),
            },
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from ``to_state``'s output as if the same articles had been placed here."""
        self._total = decode_array(state["total"])
        self._count = state["count"]
        self._sequence = state["sequence"]
        self._stories = {}
        placed = [(item["row"], item["cold_ticket"], Story.from_state(item)) for item in state["stories"]]
        self._hot.load_state(state["hot"], [(row, story) for row, _, story in placed if row >= 0])
        self._cold.load_state(state["cold"], [(ticket, story) for _, ticket, story in placed if ticket >= 0])
        stories = [story for _, _, story in placed]
        for story in stories:
            self._stories[story.story_id] = story
        self._expiry = [(story.last_seen, story.sequence, story.story_id) for story in stories]
        heapq.heapify(self._expiry)
        recent = state["recent"]
        self._recent_next = recent["next"]
        filled = min(self._recent_next, self._neighbors)
        self._recent_dense[:filled] = decode_array(recent["dense"])
        self._recent_row[:filled] = decode_array(recent["row"])
        for index, (indices, values) in enumerate(recent["lexical"]):
            self._recent_indices[index] = decode_array(indices)
            self._recent_lexical[self._recent_indices[index], index] = decode_array(values)

    def _forget_recent_row(self, row: int) -> None:
        if self._neighbors:
            self._recent_row[self._recent_row == row] = -1

    def _remember(self, row: int, vector: NDArray[np.float32], lexical: SparseVector | None) -> None:
        index = self._recent_next % self._neighbors
        self._recent_dense[index] = self._centered_unit(vector)
        if self._recent_lexical.shape[0]:
            self._recent_lexical[self._recent_indices[index], index] = 0.0
            if lexical is not None:
                self._recent_lexical[lexical[0], index] = lexical[1]
                self._recent_indices[index] = lexical[0]
        self._recent_row[index] = row
        self._recent_next += 1

    def _mean(self) -> NDArray[np.float32] | None:
        if not self._center or self._count == 0:
            return None
        return (self._total / self._count).astype(np.float32)

    def _centered_unit(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        mean = self._mean()
        if mean is None:
            return vector
        centered = vector - mean
        norm = float(np.linalg.norm(centered))
        return centered / norm if norm > 0 else centered

    def _evidence(
        self, dense: NDArray[np.float32], lexical: NDArray[np.float32] | None
    ) -> NDArray[np.float32]:
        """Joining scores from dense and (when given) lexical cosines."""
        scores = (dense - self._threshold) / (1.0 - self._threshold)
        if self._lexical_weight and lexical is not None:
            neutral = self._lexical_threshold
            lexical_scores = (lexical - neutral) / (1.0 - neutral)
            scores = (1.0 - self._lexical_weight) * scores + self._lexical_weight * lexical_scores
        return np.asarray(scores, dtype=np.float32)

    def _candidates(
        self,
        vector: NDArray[np.float32],
        lexical: SparseVector | None,
        lexical_dense: NDArray[np.float32] | None,
        limit: int,
    ) -> list[CandidateEvidence]:
        """The ``limit`` best active stories by the rule's joining score, best first (ties: hot before cold,
        then by row or ticket order)."""
        if not self._stories:
            return []
        mean = self._mean()
        use_lexical = bool(self._lexical_weight) and lexical is not None
        dense = self._hot.dense_cosines(vector, mean)
        lexical_cosines = self._hot.lexical_cosines(lexical) if use_lexical and lexical is not None else None
        scores = self._evidence(dense, lexical_cosines)
        # Best recent member per row, per evidence (the linker's features; the rule needs only the score).
        dense_member = dense.copy() if self._weigh else None
        lexical_member = lexical_cosines.copy() if self._weigh and lexical_cosines is not None else None
        if self._neighbors:
            self._raise_by_neighbors(
                scores, vector, lexical if use_lexical else None, dense_member, lexical_member
            )
        # Free rows hold zero vectors; mask them so that they never win.
        scores = np.where(self._hot.occupied[: self._hot.span], scores, -np.inf)
        rows = _best_rows(scores, limit)
        found = []
        for row in rows:
            story = self._hot.owner(row)
            if story is None or not np.isfinite(scores[row]):
                continue
            lexical_value = float(lexical_cosines[row]) if lexical_cosines is not None else 0.0
            found.append(
                CandidateEvidence(
                    story=story,
                    rule_score=float(scores[row]),
                    dense_centroid=float(dense[row]),
                    lexical_centroid=lexical_value,
                    dense_member=float(dense_member[row]) if dense_member is not None else float(dense[row]),
                    lexical_member=float(lexical_member[row])
                    if lexical_member is not None
                    else lexical_value,
                )
            )
        if use_lexical and lexical is not None and lexical_dense is not None and len(self._cold):
            found.extend(self._score_cold(vector, mean, lexical, lexical_dense, limit))
            found.sort(key=lambda candidate: -candidate.rule_score)  # stable: the order above breaks ties
            del found[limit:]
        return found

    def _raise_by_neighbors(
        self,
        scores: NDArray[np.float32],
        vector: NDArray[np.float32],
        lexical: SparseVector | None,
        dense_member: NDArray[np.float32] | None = None,
        lexical_member: NDArray[np.float32] | None = None,
    ) -> None:
        """Raise each hot row's score to that of its best recent member, in place (and the member
        similarity arrays, when given, to the best member's)."""
        filled = min(self._recent_next, self._neighbors)
        if not filled:
            return
        dense = self._recent_dense[:filled] @ self._centered_unit(vector)
        lexical_cosines = None
        if lexical is not None and self._recent_lexical.shape[0]:
            lexical_cosines = lexical[1] @ self._recent_lexical[lexical[0], :filled]
        neighbor_scores = self._evidence(dense, lexical_cosines)
        rows = self._recent_row[:filled]
        valid = rows >= 0
        np.maximum.at(scores, rows[valid], neighbor_scores[valid])
        if dense_member is not None:
            np.maximum.at(dense_member, rows[valid], dense[valid])
        if lexical_member is not None and lexical_cosines is not None:
            np.maximum.at(lexical_member, rows[valid], lexical_cosines[valid])

    def _score_cold(
        self,
        vector: NDArray[np.float32],
        mean: NDArray[np.float32] | None,
        lexical: SparseVector,
        lexical_dense: NDArray[np.float32],
        limit: int,
    ) -> list[CandidateEvidence]:
        """The ``limit`` best of the cold stories that share the most lexical weight with the article, by
        exact joining score, best first (none of their members is recent: a story's members stop linking
        when it leaves the hot tier). Only these can be among the article's ``limit`` best candidates."""
        candidates = self._cold.candidates(lexical, self._cold_candidates)
        if not candidates:
            return []
        centroids = self._cold.dense_rows(candidates)
        query = vector if mean is None else vector - mean
        lengths = np.linalg.norm(centroids if mean is None else centroids - mean, axis=1)
        query_length = float(np.linalg.norm(query)) or 1.0
        # The hot tier's similarity (see HotTier.dense_cosines); a centroid at the mean scores 0.
        dense = np.where(
            lengths > 1e-5, (centroids @ query) / (np.maximum(lengths, 1e-5) * query_length), 0.0
        )
        lexical_cosines = np.array(
            [
                float(lexical_dense[story.lexical[0]] @ story.lexical[1]) / self._cold.lexical_norm(story)
                for story in candidates
            ],
            dtype=np.float32,
        )
        dense = dense.astype(np.float32)
        scores = self._evidence(dense, lexical_cosines)
        best = _best_rows(scores, limit)  # the order a stable sort of all of them would give
        return [
            CandidateEvidence(
                candidates[index],
                float(scores[index]),
                float(dense[index]),
                float(lexical_cosines[index]),
                float(dense[index]),
                float(lexical_cosines[index]),
            )
            for index in best
        ]

    def _open(self, article_id: str, published_at: datetime, headline: str) -> Story:
        story = Story(
            story_id=story_id_for(article_id),
            first_seen=published_at,
            last_seen=published_at,
            headline=headline,
            vector_sum=np.zeros(self._dimension, dtype=np.float32),
        )
        self._stories[story.story_id] = story
        return story
