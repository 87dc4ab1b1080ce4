"""Persian text normalization: Telegram boilerplate removal, hazm normalization, tokens.

The only module that imports hazm. Pure functions over strings; no I/O after construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import hazm

from streams.errors import ArticleRejected, RejectReason

_URL = re.compile(r"(?:https?://|www\.)\S+|t\.me/\S+", re.IGNORECASE)
_MENTION = re.compile(r"@[A-Za-z0-9_]{3,}")
# A signature/footer line: only an id marker, a mention, a link or decoration remains on it.
_SIGNATURE_LINE = re.compile(r"^\W*(?:🆔|id|ID)?\W*(?:@[A-Za-z0-9_]+|https?://\S+)?\W*$")
_HASHTAG = re.compile(r"#([\w\u200c]+)")
# Everything that is not a letter, digit, ZWNJ or basic punctuation (emoji, pictographs, box drawing).
_SYMBOLS = re.compile(r"[^\w\s\u200c.,;:!?()«»\"'\-،؛؟/%٪]+")
_SPACES = re.compile(r"[ \t\u00a0\u200f\u200e]+")
_TOKEN = re.compile(r"[\w\u200c]+")
_PERSIAN_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_DIGITS = str.maketrans("0123456789٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶۷۸۹")

# Share of Persian/Arabic-script letters among all letters below which a text is not Persian.
MIN_PERSIAN_SHARE = 0.5
HEADLINE_MAX_CHARS = 200
SIGNATURE_MAX_WORDS = 3


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Clean text for embedding, the first meaningful line as a headline, and content tokens."""

    text: str
    headline: str
    tokens: tuple[str, ...]


@lru_cache(maxsize=1)
def _hazm_normalizer() -> hazm.Normalizer:
    # Constructing hazm's normalizer loads word lists: once per process.
    return hazm.Normalizer()


@lru_cache(maxsize=1)
def persian_stopwords() -> frozenset[str]:
    """hazm's Persian stopwords, normalized the same way as article text."""
    normalizer = _hazm_normalizer()
    return frozenset(normalizer.normalize(word.replace("_", " ")) for word in hazm.stopwords_list())


def strip_boilerplate(text: str) -> str:
    """Remove what Telegram channels add around a post: links, mentions, signatures, emoji, '#'."""
    lines: list[str] = []
    for line in text.splitlines():
        if _SIGNATURE_LINE.match(line.strip()):
            continue
        line = _URL.sub(" ", line)
        line = _MENTION.sub(" ", line)
        line = _HASHTAG.sub(lambda match: match.group(1).replace("_", " "), line)
        line = _SYMBOLS.sub(" ", line)
        line = _SPACES.sub(" ", line).strip()
        if line:
            lines.append(line)

    # Channels sign posts with a short last line ("خبر جنگ", "Link", a channel name): drop such trailing
    # lines of at most SIGNATURE_MAX_WORDS words when a real body (a line twice as long) stands above.
    def has_body(candidates: list[str]) -> bool:
        return any(len(line.split()) > 2 * SIGNATURE_MAX_WORDS for line in candidates)

    while len(lines) > 1 and len(lines[-1].split()) <= SIGNATURE_MAX_WORDS and has_body(lines[:-1]):
        lines.pop()
    return "\n".join(lines)


def persian_share(text: str) -> float:
    """Share of Persian-script letters among the Persian and Latin letters of ``text`` (0 when none)."""
    # The Arabic block also holds digits and punctuation (۱۲۳، ؟): only letters count.
    persian = sum(1 for char in _PERSIAN_LETTER.findall(text) if char.isalpha())
    latin = len(_LATIN_LETTER.findall(text))
    return persian / (persian + latin) if persian + latin else 0.0


class TextNormalizer:
    """Turns a raw post into ``NormalizedText``, or rejects it (empty after cleaning, not Persian)."""

    def __init__(self, min_persian_share: float = MIN_PERSIAN_SHARE) -> None:
        self._normalizer = _hazm_normalizer()
        self._stopwords = persian_stopwords()
        self._min_persian_share = min_persian_share

    def normalize(self, text: str, title: str | None = None) -> NormalizedText:
        cleaned = strip_boilerplate(text)
        if title:
            cleaned = f"{strip_boilerplate(title)}\n{cleaned}".strip()
        # Checked after hazm, which drops characters (kashida 'ـ') that would otherwise count as words.
        normalized = self._normalizer.normalize(cleaned).translate(_DIGITS)
        lines = [line.strip() for line in normalized.splitlines() if line.strip()]
        if not any(_TOKEN.search(line) for line in lines):
            raise ArticleRejected(
                RejectReason.EMPTY_TEXT, "no words left after removing links, tags and emoji"
            )
        share = persian_share(normalized)
        if share < self._min_persian_share:
            raise ArticleRejected(
                RejectReason.NOT_PERSIAN,
                f"only {share:.0%} of the letters are Persian "
                f"(at least {self._min_persian_share:.0%} needed)",
            )
        headline = next((line for line in lines if len(_TOKEN.findall(line)) >= 3), lines[0])
        return NormalizedText(
            text=" ".join(lines),
            headline=headline[:HEADLINE_MAX_CHARS],
            tokens=self.tokens(" ".join(lines)),
        )

    def tokens(self, normalized_text: str) -> tuple[str, ...]:
        """Content tokens: words of two or more characters that are not stopwords."""
        return tuple(
            token
            for token in _TOKEN.findall(normalized_text)
            if len(token) > 1 and token not in self._stopwords and not token.isdigit()
        )
