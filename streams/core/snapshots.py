"""A story as the outside sees it: the projection of its state onto the story snapshot record."""

from __future__ import annotations

from typing import Literal

from streams.core.story import MAX_SNAPSHOT_IDS, Story
from streams.records import StorySnapshot


def snapshot_of(story: Story, status: Literal["active", "closed"] = "active") -> StorySnapshot:
    return StorySnapshot(
        story_id=story.story_id,
        status=status,
        first_seen=story.first_seen,
        last_seen=story.last_seen,
        article_count=story.article_count,
        sources=dict(sorted(story.sources.items())),
        headline=story.central_headline(),
        keywords=story.keywords(),
        article_ids=story.article_ids[-MAX_SNAPSHOT_IDS:],
    )
