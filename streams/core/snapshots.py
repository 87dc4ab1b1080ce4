"""A story as the outside sees it: the projection of its state onto the story snapshot record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from streams.core.story import MAX_SNAPSHOT_IDS, Story
from streams.records import StorySnapshot


def snapshot_of(
    story: Story, status: Literal["active", "closed"] = "active", merged_into: str | None = None
) -> StorySnapshot:
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
        merged_into=merged_into,
    )


def final_story(story_id: str, merged_into: Mapping[str, str]) -> str:
    """The story whose articles ``story_id``'s are at the end, following each snapshot's ``merged_into``
    (a story merged into one that merged again later)."""
    while story_id in merged_into:
        story_id = merged_into[story_id]
    return story_id
