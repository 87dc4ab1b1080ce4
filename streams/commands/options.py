"""What several commands share: option groups, the settings they override, argument types."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING, get_args

from pydantic import ValidationError

from streams.errors import ArticleRejected, ConfigurationError
from streams.records import parse_timestamp
from streams.settings import EmbedderBackend, EmbedderSettings, Settings


def timestamp(value: str) -> datetime:
    """An ISO-8601 time with offset, as ``published_at`` takes it (argparse type)."""
    try:
        return parse_timestamp(value)
    except ArticleRejected as error:
        raise argparse.ArgumentTypeError(error.message.replace("'published_at'", "the time")) from None


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command line's overrides on top.

    Raises ``ConfigurationError`` naming the first invalid ``STREAMS_*`` variable."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise ConfigurationError(_setting_problem(error)) from None
    kafka: dict[str, object] = {}
    if getattr(args, "bootstrap_servers", None):
        kafka["bootstrap_servers"] = args.bootstrap_servers
    if getattr(args, "prefix", None):
        kafka["topic_prefix"] = args.prefix
    embedder: dict[str, object] = {}
    if getattr(args, "embedder", None):
        embedder["backend"] = args.embedder
    if getattr(args, "model", None):
        embedder["model"] = resolved_model(args.model)
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update=kafka),
            "embedder": settings.embedder.model_copy(update=embedder),
        }
    )


def resolved_model(model: str) -> str:
    """``--model`` as the embedders get it: ``bundled:NAME`` resolved as ``STREAMS_EMBEDDER__MODEL`` is."""
    try:
        return EmbedderSettings(model=model).model
    except ValidationError as error:
        raise ConfigurationError(f"--model {model!r}: {error.errors()[0]['msg']}") from None


def _setting_problem(error: ValidationError) -> str:
    """The first invalid setting as its environment variable, what it got and what it takes."""
    first = error.errors()[0]
    variable = "STREAMS_" + "__".join(str(part) for part in first["loc"]).upper()
    more = f" ({error.error_count() - 1} more invalid settings)" if error.error_count() > 1 else ""
    return f"{variable}={first.get('input')!r}: {first['msg']}{more}"


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        help="Kafka brokers, host:port[,host:port] "
        "(default: STREAMS_KAFKA__BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--prefix", help="topic name prefix (default: STREAMS_KAFKA__TOPIC_PREFIX or persian-news)"
    )


def add_embedder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedder",
        choices=list(get_args(EmbedderBackend)),
        help="embedding backend (default: STREAMS_EMBEDDER__BACKEND or onnx, the bundled event encoder)",
    )
    parser.add_argument(
        "--model",
        help="sentence-transformers model name or local path; onnx: a folder export-onnx completed or "
        "bundled:event-encoder (default: STREAMS_EMBEDDER__MODEL or the backend's default model)",
    )


# What ``register(commands)`` of each command module adds its parser to (subscripted for type checkers
# only: argparse's class is not generic at run time).
if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = argparse._SubParsersAction
