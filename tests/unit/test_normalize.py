"""Telegram boilerplate removal, Persian normalization, headlines and tokens."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.normalize import (
    HEADLINE_MAX_CHARS,
    TextNormalizer,
    persian_share,
    persian_stopwords,
    strip_boilerplate,
)
from streams.errors import ArticleRejected, RejectReason


@pytest.fixture(scope="module")
def normalizer() -> TextNormalizer:
    return TextNormalizer()


def reason_of(normalizer: TextNormalizer, text: str) -> RejectReason:
    with pytest.raises(ArticleRejected) as caught:
        normalizer.normalize(text)
    return caught.value.reason


# --------------------------------------------------------------------------------------------- boilerplate


@pytest.mark.parametrize(
    "link",
    ["https://t.me/khabar_fori/73109", "http://example.com/a?b=c", "www.example.ir/news", "t.me/joinchat/x"],
)
def test_links_are_removed(link: str) -> None:
    assert strip_boilerplate(f"زلزله در کرمان {link} خسارت زد") == "زلزله در کرمان خسارت زد"


def test_mentions_are_removed() -> None:
    assert strip_boilerplate("به گزارش @iran_akhbar زلزله آمد") == "به گزارش زلزله آمد"


@pytest.mark.parametrize(
    "signature",
    ["🆔 @khabar_fori", "@TehranNews", "📡 @iran_akhbar", "➖➖➖➖", "ID: @rooz_news", "🆔 https://t.me/x"],
)
def test_signature_lines_are_dropped(signature: str) -> None:
    assert strip_boilerplate(f"زلزله در کرمان\n{signature}") == "زلزله در کرمان"


def test_emoji_are_removed_and_empty_lines_dropped() -> None:
    assert strip_boilerplate("🔴 فوری\n⭕️\n📌 زلزله در کرمان 👇") == "فوری\nزلزله در کرمان"


def test_a_short_signature_line_under_a_body_is_dropped() -> None:
    body = "سخنگوی وزارت خارجه امروز درباره مذاکرات هسته‌ای با خبرنگاران گفت‌وگو کرد"
    assert strip_boilerplate(f"{body}\nخبر جنگ\nLink") == body
    # Without a body above it, a short last line is content, not a signature.
    assert strip_boilerplate("فوری\nزلزله در کرمان") == "فوری\nزلزله در کرمان"


def test_hashtags_keep_their_words() -> None:
    assert strip_boilerplate("#فوری #زلزله_کرمان") == "فوری زلزله کرمان"


def test_persian_punctuation_and_zwnj_survive() -> None:
    text = "«گزارش‌های» اولیه، تلفات؛ چند نفر؟"
    assert strip_boilerplate(text) == text


def test_persian_share() -> None:
    assert persian_share("سلام") == 1.0
    assert persian_share("abcd") == 0.0
    assert persian_share("سلام abcd") == 0.5
    assert persian_share("۱۲۳ ٤٥ 🔴 ، ؟") == 0.0  # digits and punctuation are not letters


# ------------------------------------------------------------------------------------------- normalize


def test_a_sample_post(normalizer: TextNormalizer) -> None:
    post = "فــــوری 🔴\nگزارش‌های اولیه از زلزله ۵.۸ ریشتری راور: تلفات\n#زلزله_کرمان\n🆔 @khabar_fori"
    result = normalizer.normalize(post)
    assert "@" not in result.text and "#" not in result.text and "🔴" not in result.text
    assert "ـ" not in result.text  # kashida
    assert result.text.startswith("فوری گزارش‌های اولیه")
    assert result.headline.startswith("گزارش‌های اولیه از زلزله")
    assert "\n" not in result.text


def test_arabic_letters_become_persian(normalizer: TextNormalizer) -> None:
    result = normalizer.normalize("زلزله شديد در كرمان")
    assert result.text == "زلزله شدید در کرمان"
    assert "کرمان" in result.tokens and "شدید" in result.tokens


@pytest.mark.parametrize("digits", ["1405", "١٤٠٥", "۱۴۰۵"])
def test_digits_are_unified_to_persian(normalizer: TextNormalizer, digits: str) -> None:
    assert normalizer.normalize(f"لایحه بودجه سال {digits} تصویب شد").text == "لایحه بودجه سال ۱۴۰۵ تصویب شد"


def test_english_text_is_not_persian(normalizer: TextNormalizer) -> None:
    text = "Breaking: a magnitude 5.8 earthquake struck near Ravar in Kerman province"
    assert reason_of(normalizer, text) == RejectReason.NOT_PERSIAN


def test_digits_do_not_make_a_text_persian(normalizer: TextNormalizer) -> None:
    # Latin digits become Persian ones during normalization; they still are not Persian letters.
    assert reason_of(normalizer, "Dollar 102660 toman 1405 12 34 56 78 90") == RejectReason.NOT_PERSIAN


def test_mostly_persian_with_some_english_is_kept(normalizer: TextNormalizer) -> None:
    assert normalizer.normalize("فروش ویژه فیلترشکن VPN پرسرعت برای اینستاگرام").tokens


@pytest.mark.parametrize(
    "text",
    ["🔴🔴 ⭕️ 👇", "🆔 @khabar_fori", "https://t.me/x/1", "➖➖➖➖\n📌", "ـــ", "ـ؟!", "#", "", " \n\t"],
    ids=["emoji", "signature", "link", "decoration", "kashida-only", "punctuation", "hash", "empty", "blank"],
)
def test_nothing_left_is_empty_text(normalizer: TextNormalizer, text: str) -> None:
    assert reason_of(normalizer, text) == RejectReason.EMPTY_TEXT


def test_headline_is_the_first_line_with_three_words(normalizer: TextNormalizer) -> None:
    result = normalizer.normalize("🔴 فوری\nخبر مهم\nزلزله شدید کرمان را لرزاند\nادامه خبر در کانال")
    assert result.headline == "زلزله شدید کرمان را لرزاند"


def test_headline_falls_back_to_the_first_line(normalizer: TextNormalizer) -> None:
    assert normalizer.normalize("فوری\nزلزله کرمان").headline == "فوری"


def test_title_comes_first(normalizer: TextNormalizer) -> None:
    result = normalizer.normalize("متن کامل خبر درباره زلزله", title="زلزله شدید در کرمان")
    assert result.headline == "زلزله شدید در کرمان"
    assert result.text == "زلزله شدید در کرمان متن کامل خبر درباره زلزله"


def test_headline_is_capped(normalizer: TextNormalizer) -> None:
    result = normalizer.normalize(" ".join(["زلزله"] * 100))
    assert len(result.headline) == HEADLINE_MAX_CHARS
    assert len(result.text) > HEADLINE_MAX_CHARS


def test_stopwords_digits_and_single_letters_are_not_tokens(normalizer: TextNormalizer) -> None:
    result = normalizer.normalize("زلزله ۵.۸ ریشتری در شهرستان راور و کرمان از ساعت 6 صبح به ب")
    assert result.tokens == ("زلزله", "ریشتری", "شهرستان", "راور", "کرمان", "ساعت", "صبح")
    stopwords = persian_stopwords()
    assert {"در", "و", "از", "به", "این"} <= stopwords


def test_stopwords_only_gives_no_tokens(normalizer: TextNormalizer) -> None:
    assert normalizer.normalize("و در به از").tokens == ()


def test_sample_posts_normalize_without_stopwords(
    normalizer: TextNormalizer, sample_lines: list[Any]
) -> None:
    stopwords = persian_stopwords()
    for line in sample_lines:
        if not line.is_valid:
            continue
        result = normalizer.normalize(line.payload["text"])
        assert not stopwords & set(result.tokens)
        assert result.headline and result.headline in result.text
        assert all(token in result.text for token in result.tokens)
        assert not {"ي", "ك", "@", "#"} & set(result.text)


# ------------------------------------------------------------------------------------------- properties

_ALPHABET = list(
    "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیيكءآأۀة"  # Persian and Arabic letters
    "۰۱۲۳۴۵۶۷۸۹0123456789٠١٢"  # three kinds of digits
    " .,:!?#@_\n\t\u200c\u200f🔴📌🆔➖«»ـabcXYZ/-"  # spacing, punctuation, emoji, Latin
)


@given(st.text() | st.lists(st.sampled_from(_ALPHABET), max_size=80).map("".join))
def test_normalize_raises_nothing_but_rejections(text: str) -> None:
    normalizer = _shared_normalizer()
    try:
        result = normalizer.normalize(text)
    except ArticleRejected as error:
        assert error.reason in (RejectReason.EMPTY_TEXT, RejectReason.NOT_PERSIAN)
        return
    assert result.text and result.headline
    assert result.headline in result.text


def _shared_normalizer() -> TextNormalizer:
    return TextNormalizer()  # cheap: hazm's word lists are loaded once per process


@cache
def _sample_vocabulary() -> list[str]:
    """Content words of the sample's posts as the normalizer writes them (3+ letters: no affixes)."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "persian-news-sample.jsonl"
    normalizer = _shared_normalizer()
    words: set[str] = set()
    for line in sample.read_text(encoding="utf-8").splitlines():
        try:
            post = json.loads(line)
        except ValueError:
            continue
        if isinstance(post, dict) and post.get("sample_story", "malformed") != "malformed":
            words.update(token for token in normalizer.normalize(post["text"]).tokens if len(token) > 2)
    return sorted(words)


_DECORATION = st.sampled_from(
    ["🔴", "#", "@khabar_fori", "https://t.me/x/1", "\n", "\n🆔 @rooz_news\n", "📌", "ـ", "«", "»", "،", "."]
)
_POSTS = st.lists(
    st.deferred(lambda: st.sampled_from(_sample_vocabulary())) | _DECORATION, min_size=1, max_size=40
)


@given(_POSTS.map(" ".join))
def test_normalizing_normalized_text_keeps_its_tokens(post: str) -> None:
    normalizer = _shared_normalizer()
    try:
        first = normalizer.normalize(post)
    except ArticleRejected:
        return
    again = normalizer.normalize(first.text)
    assert again.tokens == first.tokens
    assert normalizer.tokens(first.text) == first.tokens
