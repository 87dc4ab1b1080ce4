"""Fine-tuning the encoder for event identity (``python -m streams train-encoder``).

Start: a sentence-transformers folder of the e5 encoder (``python -m streams export-e5``). Training data:
the same-story pairs of the gold *training* days only (each news post with the story's previous post and
with its first post), contrastive with in-batch negatives (symmetric InfoNCE, scale 20), pairs of one
story never counted as each other's negatives; with ``hard_negatives``, each pair adds a post of the same
day and annotated topic but another story (two different strikes of one war) as a negative column. The
word embeddings stay frozen: they are 80% of the parameters, the pairs are few, and the vocabulary
outside the pairs must keep its meaning. Selection figures are taken on the development days and never
trained on; nothing published on or after the cut-off (2026-07-27) is read.

Seeded and deterministic for a given machine and thread count; an epoch's state is saved so that
``--resume`` continues after an interruption.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from streams.core.calibration import MODEL_DEFAULTS_FILE, model_defaults
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected, ConfigurationError
from streams.tools.e5_export import file_sha256
from streams.tools.evaluation.gold import (
    EvaluationData,
    StreamLine,
    load_labels,
    load_story_topics,
    read_stream,
)
from streams.tools.evaluation.metrics import GoldLabel, vector_pair_ranking

# Nothing published on or after this may train or tune anything (the held-out days come later).
CUTOFF = datetime.fromisoformat("2026-07-27T00:00:00+03:30")
STATE_FOLDER = ".training"


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    max_length: int = 128
    max_chars: int = 1500
    scale: float = 20.0
    seed: int = 0
    threads: int = 2
    # Add to each pair a post of the same day and topic but another story (the annotators' topics).
    hard_negatives: bool = False
    # The join threshold the trained folder declares (its cosines sit higher); None: the base's.
    join_threshold: float | None = None
    # Self-supervised pairs mined from the unlabelled posts before the cut-off (streams/tools/mined_pairs.py),
    # at most this many (0: none), outside the development days' run windows.
    mined_pairs: int = 0


@dataclass(frozen=True, slots=True)
class Pair:
    story: str  # "<day>/<story>": pairs of one story are never each other's negatives
    first: str
    second: str
    # (post, its story key) of the same day and gold topic, other stories: what an event encoder must
    # tell apart.
    hard_negatives: tuple[tuple[str, str], ...] = ()


def training_pairs(
    labels_by_day: dict[date, dict[str, GoldLabel]],
    topics_by_day: dict[date, dict[str, str]] | None = None,
) -> list[Pair]:
    """Each news post with its story's previous post and with its story's first post (when different);
    with ``topics_by_day``, each pair also lists the day's posts of the same topic from other stories."""
    pairs: list[Pair] = []
    for day, labels in sorted(labels_by_day.items()):
        stories: dict[str, list[str]] = defaultdict(list)
        for item, label in labels.items():
            if label.kind == "news":
                stories[label.story].append(item)
        topics = (topics_by_day or {}).get(day, {})
        by_topic: dict[str, list[str]] = defaultdict(list)
        for story, items in stories.items():
            if topics.get(story):
                by_topic[topics[story]].extend(items)
        for story, items in sorted(stories.items()):
            items.sort(key=lambda item: (labels[item].published_at, item))
            key = f"{day.isoformat()}/{story}"
            topic = topics.get(story)
            negatives = tuple(
                sorted(
                    (item, f"{day.isoformat()}/{labels[item].story}")
                    for item in (by_topic.get(topic, []) if topic else [])
                    if labels[item].story != story
                )
            )
            pairs += [Pair(key, first, second, negatives) for first, second in pairwise(items)]
            pairs += [Pair(key, items[0], later, negatives) for later in items[2:]]
    return pairs


def mined_training_pairs(
    lines: Sequence[StreamLine],
    dev_days: Sequence[date],
    train_labels: dict[date, dict[str, GoldLabel]],
    limit: int,
    seed: int,
    progress: bool,
) -> tuple[list[Pair], dict[str, Any]]:
    """At most ``limit`` mined pairs as training pairs (one story key per connected group), and what the
    report says of them: how many were found and used, and their precision on the training days."""
    from streams.tools.mined_pairs import mine_pairs, precision_on, sample_pairs, unlabelled_posts

    # Not the development days, nor the day before each (their run windows' warm-up).
    excluded = [day - timedelta(days=offset) for day in dev_days for offset in (0, 1)]
    mined = mine_pairs(unlabelled_posts(lines, CUTOFF, excluded, progress), progress=progress)
    used = sample_pairs(mined, limit, seed)
    labels = {item: label for day_labels in train_labels.values() for item, label in day_labels.items()}
    precision, scored = precision_on(mined, labels)
    summary = {
        "found": len(mined),
        "used": len(used),
        "train_day_precision": round(precision, 4),
        "train_day_pairs": scored,
    }
    return [Pair(f"mined/{pair.group}", pair.first, pair.second) for pair in used], summary


class GoldTexts:
    """The normalized, prefixed text of every post before the cut-off, as the pipeline embeds it."""

    def __init__(self, data: EvaluationData, prefix: str, max_chars: int) -> None:
        self._normalizer = TextNormalizer()
        self._raw: dict[str, bytes] = {}
        self.published: dict[str, datetime] = {}
        self.lines = [
            line for line in read_stream(data.stream) if line.published_at and line.published_at < CUTOFF
        ]
        for line in self.lines:
            if line.article_id and line.published_at:
                self._raw[line.article_id] = line.raw
                self.published[line.article_id] = line.published_at
        self._prefix = prefix
        self._max_chars = max_chars
        self._texts: dict[str, str] = {}

    def __call__(self, item: str) -> str:
        text = self._texts.get(item)
        if text is None:
            record = json.loads(self._raw[item])
            body = record.get("text") if isinstance(record.get("text"), str) else ""
            title = record.get("title") if isinstance(record.get("title"), str) else None
            try:
                normalized = self._normalizer.normalize(body, title).text
            except ArticleRejected:
                normalized = body  # a post the detector refuses still needs a text here
            text = self._texts[item] = self._prefix + normalized[: self._max_chars]
        return text


def ranking_figures(
    encode: Callable[[Sequence[str]], np.ndarray[Any, Any]],
    labels_by_day: dict[date, dict[str, GoldLabel]],
    texts: GoldTexts,
) -> dict[str, dict[str, float]]:
    """Pair ranking accuracy per day, raw and centered (by the day's mean vector)."""
    figures: dict[str, dict[str, float]] = {}
    for day, labels in sorted(labels_by_day.items()):
        items = sorted(labels)
        matrix = encode([texts(item) for item in items])
        vectors = {item: matrix[index] for index, item in enumerate(items)}
        figures[day.isoformat()] = {
            "dense": round(vector_pair_ranking(labels, vectors)[0], 4),
            "dense_centered": round(
                vector_pair_ranking(labels, vectors, matrix.mean(axis=0).astype(np.float32))[0], 4
            ),
        }
    return figures


def train_encoder(
    data_root: Path,
    base: Path,
    output: Path,
    options: TrainingOptions,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune ``base`` into ``output``; returns the report (also written to ``output``)."""
    import torch
    from sentence_transformers import SentenceTransformer

    if not (base / "modules.json").is_file():
        raise ConfigurationError(
            f"{base} is not a sentence-transformers folder: build one with python -m streams export-e5"
        )
    if not (base / MODEL_DEFAULTS_FILE).is_file():
        raise ConfigurationError(
            f"{base} does not say how to use it ({MODEL_DEFAULTS_FILE}): build it with "
            "python -m streams export-e5"
        )
    data = EvaluationData(data_root)
    data.check()
    train_days, dev_days = data.days("train"), data.days("dev")
    if not train_days:
        raise ConfigurationError(
            f"no training days in {data_root / 'gold'}: is --data the evaluation folder?"
        )
    defaults = model_defaults(str(base))
    texts = GoldTexts(
        data, defaults.prefix if defaults.prefix is not None else "passage: ", options.max_chars
    )
    train = {day: load_labels(data, day, texts.published) for day in train_days}
    dev = {day: load_labels(data, day, texts.published) for day in dev_days}
    topics = {day: load_story_topics(data, day) for day in train_days} if options.hard_negatives else None
    pairs = training_pairs(train, topics)
    mined_summary: dict[str, Any] | None = None
    if options.mined_pairs:
        mined, mined_summary = mined_training_pairs(
            texts.lines, dev_days, train, options.mined_pairs, options.seed, progress
        )
        pairs += mined

    random.seed(options.seed)
    np.random.seed(options.seed)
    torch.manual_seed(options.seed)
    torch.set_num_threads(options.threads)
    state_path = output / STATE_FOLDER / "state.pt"
    start_epoch = 0
    model_folder = base
    if resume and state_path.is_file():
        model_folder = output
    model = SentenceTransformer(str(model_folder), device="cpu")
    # Trained on short inputs (the first tokens carry the event), used on whole posts as the base was.
    inference_length = model.max_seq_length
    model.max_seq_length = options.max_length
    encoder: Any = model[0].auto_model  # the Hugging Face XLM-R model inside the sentence-transformer
    for parameter in encoder.embeddings.word_embeddings.parameters():
        parameter.requires_grad = False
    optimizer = torch.optim.AdamW(
        [parameter for parameter in model.parameters() if parameter.requires_grad], lr=options.learning_rate
    )
    reported = asdict(options)
    if not options.mined_pairs:
        # Options added later are reported when used: earlier runs' reports (and bundles) stay as they were.
        del reported["mined_pairs"]
    report: dict[str, Any] = {
        "options": reported,
        "pairs": len(pairs),
        "pairs_with_hard_negatives": sum(1 for pair in pairs if pair.hard_negatives),
        "epochs": [],
    }
    if mined_summary is not None:
        report["mined_pairs"] = mined_summary
    if resume and state_path.is_file():
        state = torch.load(state_path, weights_only=False)
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = state["epoch"]
        report = state["report"]

    def encode(batch: Sequence[str]) -> np.ndarray[Any, Any]:
        # Measured as the pipeline will use it: whole posts, not the training cut.
        model.eval()
        model.max_seq_length = inference_length
        with torch.no_grad():
            vectors = model.encode(
                list(batch), batch_size=32, normalize_embeddings=True, show_progress_bar=False
            )
        model.max_seq_length = options.max_length
        return np.asarray(vectors)

    if start_epoch == 0:
        report["before"] = ranking_figures(encode, dev, texts)
    for epoch in range(start_epoch, options.epochs):
        order = list(pairs)
        random.Random(options.seed + epoch).shuffle(order)
        batches = [order[k : k + options.batch_size] for k in range(0, len(order), options.batch_size)]
        losses: list[float] = []
        model.train()
        chooser = random.Random(options.seed * 1_000_003 + epoch)
        for batch in tqdm(batches, desc=f"epoch {epoch + 1}", unit="batch", disable=not progress):
            if len(batch) < 2:
                continue
            first = model(model.preprocess([texts(pair.first) for pair in batch]))["sentence_embedding"]
            second = model(model.preprocess([texts(pair.second) for pair in batch]))["sentence_embedding"]
            logits = first @ second.T * options.scale
            # Another pair of the same story is not a negative: masked out.
            same = torch.tensor([[a.story == b.story for b in batch] for a in batch])
            logits = logits.masked_fill(same & ~torch.eye(len(batch), dtype=torch.bool), float("-inf"))
            target = torch.arange(len(batch))
            backward = torch.nn.functional.cross_entropy(logits.T, target)
            # One hard negative per pair that has one, as extra columns for every first post of the batch.
            negatives = [chooser.choice(pair.hard_negatives) for pair in batch if pair.hard_negatives]
            if negatives:
                hard = model(model.preprocess([texts(item) for item, _ in negatives]))["sentence_embedding"]
                hard_logits = first @ hard.T * options.scale
                # A negative of one pair may be of another pair's story: not a negative for that row.
                positive = torch.tensor([[a.story == story for _, story in negatives] for a in batch])
                logits = torch.cat([logits, hard_logits.masked_fill(positive, float("-inf"))], dim=1)
            loss = (torch.nn.functional.cross_entropy(logits, target) + backward) / 2
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            losses.append(loss.item())
        figures: dict[str, Any] = {"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4)}
        figures["dev_ranking"] = ranking_figures(encode, dev, texts)
        report["epochs"].append(figures)
        model.max_seq_length = inference_length
        model.save(str(output))
        model.max_seq_length = options.max_length
        _write_defaults(base, output, report, options.join_threshold)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "epoch": epoch + 1,
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "report": report,
            },
            state_path,
        )
    return report


def _write_defaults(base: Path, output: Path, report: dict[str, Any], threshold: float | None) -> None:
    """The base's usage (prefix, calibration) travels with the trained folder, with the training report."""
    declared = json.loads((base / MODEL_DEFAULTS_FILE).read_text(encoding="utf-8"))
    if threshold is not None:
        declared["threshold"] = threshold
    # Other weights, another fingerprint: embedding caches key on it and must not mix the two.
    declared["fingerprint"] = file_sha256(output / "model.safetensors")  # as export-e5 defines it
    declared["trained"] = {"from": str(base), "report": report}
    (output / MODEL_DEFAULTS_FILE).write_text(json.dumps(declared, indent=2) + "\n", encoding="utf-8")
    (output / "training-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
