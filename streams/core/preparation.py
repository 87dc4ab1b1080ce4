"""The stateless half of the Detector: raw message -> validated article -> normalized text -> embedding.

It scales out (any number of workers prepare input partitions in parallel); the stateful half, story
tracking, needs one global view (``streams/core/detector.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from streams.core.embedding import Embedder
from streams.core.messages import InputMessage
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected, RejectReason
from streams.records import Article, EmbeddedArticle, Rejection, parse_article, peek_article_id, reject
from streams.settings import Settings


def wall_clock_now() -> datetime:
    return datetime.now(UTC)


class ArticlePreparer:
    """Validates, normalizes and embeds a batch of input messages.

    ``wall_clock`` is the one place where wall time enters the detector: nothing can be published after
    the real now, so an article dated later than now plus ``worker.max_future_seconds`` is refused
    (``future_timestamp``) before it can move the event clock ahead for good. Tests inject a fixed clock.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        normalizer: TextNormalizer | None = None,
        wall_clock: Callable[[], datetime] = wall_clock_now,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._normalizer = normalizer or TextNormalizer()
        self._wall_clock = wall_clock

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @staticmethod
    def _peek_id(reason: RejectReason, raw: bytes) -> str | None:
        # An oversized message is not parsed at all: that is what the limit protects.
        return None if reason is RejectReason.TOO_LARGE else peek_article_id(raw)

    def _check_not_in_future(self, article: Article, now: datetime) -> None:
        # Seconds as floats: a difference of two datetimes never overflows, whatever the year.
        ahead = (article.published_at - now).total_seconds()
        limit = self._settings.worker.max_future_seconds
        if ahead > limit:
            raise ArticleRejected(
                RejectReason.FUTURE_TIMESTAMP,
                f"'published_at' {article.published_at.isoformat()} is {ahead:.0f} s after the wall clock's "
                f"now ({now.isoformat(timespec='seconds')}); at most {limit:.0f} s are tolerated",
            )

    def prepare(self, messages: Sequence[InputMessage]) -> list[EmbeddedArticle | Rejection]:
        """One result per message, in order: an embedded article or the reason it was refused."""
        results: list[EmbeddedArticle | Rejection | None] = [None] * len(messages)
        pending: list[tuple[int, Article, str, str, tuple[str, ...]]] = []
        now = self._wall_clock()
        for index, message in enumerate(messages):
            article: Article | None = None
            try:
                article = parse_article(
                    message.raw,
                    max_bytes=self._settings.kafka.max_message_bytes,
                    max_text_chars=self._settings.worker.max_text_chars,
                )
                self._check_not_in_future(article, now)
                normalized = self._normalizer.normalize(article.text, article.title)
            except ArticleRejected as error:
                results[index] = reject(
                    error.reason,
                    error.message,
                    message.raw,
                    article_id=article.id if article else self._peek_id(error.reason, message.raw),
                    at=article.published_at if article else None,
                    input_partition=message.partition,
                    input_offset=message.offset,
                )
                continue
            pending.append((index, article, normalized.text, normalized.headline, normalized.tokens))
        vectors = self._embedder.embed([text for _, _, text, _, _ in pending])
        for (index, article, _, headline, tokens), vector in zip(pending, vectors, strict=True):
            results[index] = EmbeddedArticle(
                id=article.id,
                published_at=article.published_at,
                source=article.source,
                headline=headline,
                tokens=list(tokens),
                embedding=EmbeddedArticle.encode_vector(vector),
                embedder=self._embedder.name,
                input_partition=messages[index].partition,
                input_offset=messages[index].offset,
            )
        return [result for result in results if result is not None]
