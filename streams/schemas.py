"""JSON Schemas of the wire records and of the story board's API, generated from the models (consumers in
other languages use them)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from streams.board.view import AlertList, StoryDetail, StoryList
from streams.records import (
    SCHEMA_VERSION,
    Alert,
    Article,
    Assignment,
    EmbeddedArticle,
    Rejection,
    StorySnapshot,
)

WIRE_RECORDS: dict[str, type[BaseModel]] = {
    "article": Article,
    "embedded-article": EmbeddedArticle,
    "assignment": Assignment,
    "story": StorySnapshot,
    "alert": Alert,
    "rejection": Rejection,
}
# What ``python -m streams board`` answers on /api/stories, /api/stories/{id} and /api/alerts.
BOARD_RECORDS: dict[str, type[BaseModel]] = {
    "board-stories": StoryList,
    "board-story": StoryDetail,
    "board-alerts": AlertList,
}


def render_schemas() -> dict[str, str]:
    """File name -> schema text, stable byte for byte."""
    rendered = {}
    for name, model in {**WIRE_RECORDS, **BOARD_RECORDS}.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://github.com/persian-news-streams/schemas/{name}.v{SCHEMA_VERSION}.json"
        rendered[f"{name}.v{SCHEMA_VERSION}.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    return rendered
