"""Self-supervised pairs: which unlabelled posts are paired, grouped, sampled and read."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from streams.records import peek
from streams.tools.encoder_training import CUTOFF, mined_training_pairs
from streams.tools.evaluation.gold import StreamLine
from streams.tools.evaluation.metrics import GoldLabel
from streams.tools.mined_pairs import (
    MinedPair,
    MinedPost,
    MiningOptions,
    mine_pairs,
    precision_on,
    sample_pairs,
    unlabelled_posts,
)

TEHRAN = timezone(timedelta(hours=3, minutes=30))
T0 = datetime(2026, 6, 10, 9, 0, tzinfo=TEHRAN)
EVENT = tuple(f"زلزله{index}" for index in range(12))  # the words of one event's report
OTHER = tuple(f"انتخابات{index}" for index in range(12))


def post(item: str, minutes: float, source: str, tokens: tuple[str, ...]) -> MinedPost:
    return MinedPost(item, T0 + timedelta(minutes=minutes), source, tokens)


def rewrite(tokens: tuple[str, ...], keep: int, tag: str) -> tuple[str, ...]:
    """The first ``keep`` words of ``tokens`` and new words for the rest: another channel's wording."""
    return tokens[:keep] + tuple(f"{tag}{index}" for index in range(len(tokens) - keep))


def test_a_rewrite_by_another_channel_within_the_gap_is_paired() -> None:
    posts = [
        post("a/1", 0, "a", EVENT),
        post("b/1", 30, "b", rewrite(EVENT, 8, "ب")),
        post("c/1", 40, "c", OTHER),  # another event
        post("a/2", 50, "a", rewrite(EVENT, 8, "الف")),  # same channel as a/1, and b/1 is a rewrite
    ]
    pairs = mine_pairs(posts)
    assert [(pair.first, pair.second) for pair in pairs] == [("a/1", "b/1"), ("b/1", "a/2")]
    assert all(MiningOptions().low <= pair.cosine < MiningOptions().high for pair in pairs)
    # One event: one group, named by its earliest post.
    assert {pair.group for pair in pairs} == {"a/1"}


def test_copies_posts_of_one_channel_and_posts_hours_apart_are_not_paired() -> None:
    posts = [
        post("a/1", 0, "a", EVENT),
        post("b/1", 10, "b", EVENT),  # a copy: nothing to learn
        post("a/2", 20, "a", rewrite(EVENT, 8, "الف")),  # only a/1's channel and a copy's
        post("c/1", 60 * 4, "c", rewrite(EVENT, 8, "پ")),  # four hours later
    ]
    pairs = mine_pairs(posts)
    assert [(pair.first, pair.second) for pair in pairs] == [("b/1", "a/2")]
    assert mine_pairs(posts, MiningOptions(high=1.01))[0] == MinedPair("a/1", "b/1", 1.0, "a/1")
    assert len(mine_pairs(posts, MiningOptions(max_gap=timedelta(hours=5)))) == 2


def test_input_order_does_not_change_the_pairs() -> None:
    posts = [
        post("a/1", 0, "a", EVENT),
        post("b/1", 30, "b", rewrite(EVENT, 8, "ب")),
        post("c/1", 35, "c", rewrite(OTHER, 8, "پ")),
        post("d/1", 45, "d", OTHER),
    ]
    assert mine_pairs(posts) == mine_pairs(list(reversed(posts)))
    assert {pair.group for pair in mine_pairs(posts)} == {"a/1", "c/1"}


def test_sampling_is_seeded_and_keeps_the_order() -> None:
    pairs = [MinedPair(f"x/{index}", f"y/{index}", 0.5, f"x/{index}") for index in range(50)]
    sample = sample_pairs(pairs, 10, seed=1)
    assert sample == sample_pairs(pairs, 10, seed=1) != sample_pairs(pairs, 10, seed=2)
    assert len(sample) == 10 and sample == sorted(sample, key=pairs.index)
    assert sample_pairs(pairs, 80, seed=1) == pairs


def test_precision_counts_only_pairs_with_both_posts_labelled() -> None:
    def label(story: str, kind: str = "news") -> GoldLabel:
        return GoldLabel(story=story, kind=kind, source="s", published_at=T0)

    labels = {"a": label("A"), "b": label("A"), "c": label("C"), "n1": label("N", "noise"), "n2": label("N")}
    pairs = [
        MinedPair("a", "b", 0.5, "a"),
        MinedPair("a", "c", 0.5, "a"),
        MinedPair("n1", "n2", 0.5, "n1"),  # noise is no story
        MinedPair("a", "unlabelled", 0.5, "a"),
    ]
    assert precision_on(pairs, labels) == (1 / 3, 3)
    assert precision_on([], labels) == (0.0, 0)


def stream_line(item: str, at: datetime, text: str) -> StreamLine:
    raw = json.dumps(
        {"id": item, "source": item.split("/", maxsplit=1)[0], "published_at": at.isoformat(), "text": text},
        ensure_ascii=False,
    ).encode()
    return StreamLine(raw, *peek(raw))


EVENT_TEXT = "زمین لرزه شدید استان کرمان را لرزاند و خانه های روستایی ویران شد و امدادگران اعزام شدند"
REWRITE_TEXT = "زمین لرزه شدید استان کرمان را لرزاند و امدادگران هلال احمر برای کمک به آسیب دیدگان رفتند"


def test_only_posts_before_the_cut_off_and_outside_the_excluded_days_are_read() -> None:
    dev = date(2026, 6, 12)
    lines = [
        stream_line("a/1", T0, EVENT_TEXT),
        stream_line("b/1", T0 + timedelta(days=1), EVENT_TEXT),  # the dev day's warm-up day
        stream_line("c/1", T0 + timedelta(days=2), EVENT_TEXT),  # the dev day
        stream_line("d/1", T0 + timedelta(days=3), "breaking news in English only"),  # rejected
        stream_line("e/1", CUTOFF, EVENT_TEXT),  # the held-out period
    ]
    posts = unlabelled_posts(lines, CUTOFF, [dev, dev - timedelta(days=1)])
    assert [item.id for item in posts] == ["a/1"]
    assert posts[0].source == "a" and "کرمان" in posts[0].tokens


def test_mined_training_pairs_are_keyed_by_group_and_reported() -> None:
    lines = [
        stream_line("a/1", T0, EVENT_TEXT),
        stream_line("b/1", T0 + timedelta(minutes=20), REWRITE_TEXT),
        # The same two posts on a development day: never mined.
        stream_line("a/2", T0 + timedelta(days=5), EVENT_TEXT),
        stream_line("b/2", T0 + timedelta(days=5, minutes=20), REWRITE_TEXT),
    ]
    dev_day = (T0 + timedelta(days=5)).date()
    train = {T0.date(): {"a/1": GoldLabel("A", "news", "a", T0), "b/1": GoldLabel("A", "news", "b", T0)}}
    pairs, summary = mined_training_pairs(lines, [dev_day], train, limit=10, seed=0, progress=False)
    assert [(pair.story, pair.first, pair.second) for pair in pairs] == [("mined/a/1", "a/1", "b/1")]
    assert summary == {"found": 1, "used": 1, "train_day_precision": 1.0, "train_day_pairs": 1}
    assert mined_training_pairs(lines, [dev_day], train, limit=0, seed=0, progress=False)[1]["used"] == 0
