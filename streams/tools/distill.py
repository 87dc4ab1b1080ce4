"""Distill a fast static Persian embedder from a teacher model (model2vec-style).

The teacher (the bundled e5 by default) embeds every word of a vocabulary built from Persian news text;
optionally PCA-reduced and weighted by word frequency (SIF: frequent words count less), those word vectors
become the rows of a sentence-transformers ``StaticEmbedding``: a text's vector is the mean of its words'
rows. Embedding is then a dictionary lookup and an average, hundreds of times faster than running the
transformer, at a measured cost in quality (docs/PERFORMANCE.md, "Fast replay").

Words are cut exactly as the saved model cuts them: the vocabulary is counted with the model's own
normalizer and pre-tokenizer, over text that went through the pipeline's ``TextNormalizer`` first (the
embedding stage sees only normalized text). The result is deterministic given the corpus, the teacher and
the options.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers
from tqdm import tqdm

from streams.core.calibration import MODEL_DEFAULTS_FILE
from streams.core.embedding import CachingEmbedder, Embedder, Matrix, save_static_model
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected, ConfigurationError
from streams.records import parse_timestamp

UNKNOWN = "[UNK]"
# Fields of a corpus record that hold text (strings, or lists of strings such as Fars News' paragraphs).
TEXT_FIELDS = ("title", "summary", "abstract", "text", "paragraphs", "body")
# Join threshold (centered cosine) and centering of the default recipe, calibrated on the development days
# with ``python -m streams evaluate`` (docs/PERFORMANCE.md); --threshold / --center override them.
DEFAULT_THRESHOLD = 0.55
DEFAULT_CENTERED = True


@dataclass(frozen=True, slots=True)
class DistillOptions:
    """What to distill: vocabulary size and the post-processing of the teacher's word vectors."""

    min_count: int = 2
    max_words: int = 50_000
    dimensions: int | None = 256  # PCA components kept; None keeps the teacher's dimensions (no PCA)
    sif: float | None = 1e-3  # SIF weight a / (a + p(word)); None: every word weighs the same
    batch_size: int = 128
    max_chars: int = 1500  # of a fit document, as the embedding stage clips it (EmbedderSettings.max_chars)
    ridge: float = 1.0  # with fit documents: pull towards the teacher's word vectors (relative strength)
    fit_iterations: int = 100
    threshold: float = DEFAULT_THRESHOLD
    centered: bool = DEFAULT_CENTERED


@dataclass(frozen=True, slots=True)
class DistillReport:
    """What was built, and what it cost."""

    folder: Path
    documents: int
    skipped_documents: int  # not Persian, or empty after cleaning
    corpus_words: int
    vocabulary: int
    dimension: int
    coverage: float  # share of the corpus's word occurrences the vocabulary covers
    fit_documents: int  # documents whose teacher vectors the word vectors were fitted to (0: none)
    fit_r2: float | None  # share of the fit documents' (centered) teacher vectors the words explain
    fingerprint: str
    teacher: str
    count_seconds: float
    teacher_seconds: float
    total_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "documents": self.documents,
            "skipped_documents": self.skipped_documents,
            "corpus_words": self.corpus_words,
            "vocabulary": self.vocabulary,
            "dimension": self.dimension,
            "coverage": self.coverage,
            "fit_documents": self.fit_documents,
            "fit_r2": self.fit_r2,
            "fingerprint": self.fingerprint,
            "teacher": self.teacher,
            "count_seconds": self.count_seconds,
            "teacher_seconds": self.teacher_seconds,
            "total_seconds": self.total_seconds,
        }


def _word_normalizer() -> normalizers.Normalizer:
    # Latin words in either case are one word; Persian script has no case.
    return normalizers.Lowercase()


def _word_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    # Words are runs of letters, marks, digits and ZWNJ (which joins the parts of one Persian word).
    return pre_tokenizers.Split(Regex(r"[^\w\u200c]+"), behavior="removed")


class WordSplitter:
    """Cuts normalized text into the words the static model looks up (with the model's own normalizer and
    pre-tokenizer)."""

    def __init__(self) -> None:
        self._normalizer = _word_normalizer()
        self._pre_tokenizer = _word_pre_tokenizer()

    def words(self, text: str) -> list[str]:
        pieces = self._pre_tokenizer.pre_tokenize_str(self._normalizer.normalize_str(text))
        return [word for word, _ in pieces]


def build_tokenizer(words: Sequence[str]) -> Tokenizer:
    """A word-level tokenizer: id 0 is the unknown word, then ``words`` in order."""
    vocab = {UNKNOWN: 0} | {word: index for index, word in enumerate(words, start=1)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNKNOWN))
    tokenizer.normalizer = _word_normalizer()
    tokenizer.pre_tokenizer = _word_pre_tokenizer()
    return tokenizer


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _record_text(record: Any) -> str:
    if not isinstance(record, dict):
        return ""
    parts: list[str] = []
    for name in TEXT_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(item for item in value if isinstance(item, str))
    return "\n".join(parts)


def _published_before(record: Any, until: datetime | None) -> bool:
    if until is None or not isinstance(record, dict) or not isinstance(record.get("published_at"), str):
        return True
    try:
        return parse_timestamp(record["published_at"]) < until
    except ArticleRejected:
        return True


def read_corpus(path: Path, until: datetime | None = None) -> Iterator[str]:
    """The documents of a corpus file, raw: ``.jsonl`` (one object a line: an article stream), ``.json``
    (a list of objects: Fars News, Hamshahri) or ``.txt`` (one document a line), each optionally gzipped.
    Objects give their ``TEXT_FIELDS``; with ``until``, records published at or after it are left out."""
    if not path.is_file():
        raise ConfigurationError(f"corpus file {path} does not exist")
    kind = path.name.removesuffix(".gz").rsplit(".", 1)[-1]
    with _open_text(path) as handle:
        if kind == "jsonl":
            for line in handle:
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if _published_before(record, until):
                        yield _record_text(record)
        elif kind == "json":
            data = json.load(handle)
            records = data if isinstance(data, list) else [data]
            for record in records:
                if _published_before(record, until):
                    yield _record_text(record)
        elif kind == "txt":
            yield from (line for line in handle if line.strip())
        else:
            raise ConfigurationError(f"corpus {path}: expected .jsonl, .json or .txt (optionally .gz)")


@dataclass
class WordCounts:
    counts: Counter[str]
    documents: int = 0
    skipped: int = 0


def count_words(
    documents: Iterable[str], normalizer: TextNormalizer | None = None, progress: bool = False
) -> WordCounts:
    """Word occurrences over the documents as the pipeline would embed them (``TextNormalizer``)."""
    normalizer = normalizer or TextNormalizer()
    splitter = WordSplitter()
    result = WordCounts(Counter())
    for document in tqdm(documents, desc="counting words", unit="doc", disable=not progress):
        try:
            text = normalizer.normalize(document).text
        except ArticleRejected:
            result.skipped += 1
            continue
        result.documents += 1
        result.counts.update(splitter.words(text))
    return result


def select_vocabulary(counts: Counter[str], min_count: int, max_words: int) -> list[str]:
    """The most frequent words seen at least ``min_count`` times, most frequent first (ties by word, so the
    order does not depend on the order of the corpus)."""
    ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:max_words]]


def teacher_vectors(
    words: Sequence[str],
    teacher: Embedder,
    batch_size: int,
    cache_dir: Path | None = None,
    progress: bool = False,
    desc: str = "teacher",
) -> Matrix:
    """The teacher's vector of each text (a word alone, or a document), batch by batch (cached per teacher
    when ``cache_dir`` is given, so an interrupted or repeated run does not pay the teacher twice)."""
    cached = CachingEmbedder.in_folder(teacher, cache_dir) if cache_dir else None
    model: Embedder = cached or teacher
    rows: list[Matrix] = []
    with tqdm(total=len(words), desc=desc, unit="text", disable=not progress) as bar:
        for first in range(0, len(words), batch_size):
            batch = words[first : first + batch_size]
            rows.append(model.embed(batch))
            if cached and (first // batch_size) % 16 == 15:
                cached.save()
            bar.update(len(batch))
    if cached:
        cached.save()
    if not rows:
        return np.zeros((0, teacher.dimension), dtype=np.float32)
    return np.concatenate(rows).astype(np.float32)


def principal_axes(vectors: Matrix, dimensions: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The mean of ``vectors`` and their ``dimensions`` principal axes (rows), each axis' sign fixed so that
    its largest loading is positive: the same input always gives the same axes."""
    data = vectors.astype(np.float64)
    mean = data.mean(axis=0)
    _, _, axes = np.linalg.svd(data - mean, full_matrices=False)
    axes = axes[: min(dimensions, axes.shape[0])]
    signs = np.sign(axes[np.arange(axes.shape[0]), np.abs(axes).argmax(axis=1)])
    axes *= np.where(signs == 0, 1.0, signs)[:, None]
    return mean, axes


def pca(vectors: Matrix, dimensions: int) -> Matrix:
    """Centered vectors projected on their ``dimensions`` principal axes."""
    mean, axes = principal_axes(vectors, dimensions)
    return ((vectors.astype(np.float64) - mean) @ axes.T).astype(np.float32)


def sif_weights(words: Sequence[str], counts: Counter[str], a: float) -> Matrix:
    """Smooth inverse frequency a / (a + p(word)) (Arora et al. 2017): function words weigh little."""
    total = sum(counts[word] for word in words) or 1
    probabilities = np.array([counts[word] / total for word in words], dtype=np.float64)
    return (a / (a + probabilities)).astype(np.float32)


def bag_of_words(documents: Sequence[Sequence[str]], index: dict[str, int], size: int) -> sparse.csr_matrix:
    """Row d: the weights with which the static model averages document d's words (1/words per occurrence;
    unknown words count in the denominator, as the model's mean does, but have no column)."""
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    for row, words in enumerate(documents):
        for word in words:
            column = index.get(word)
            if column is not None:
                rows.append(row)
                columns.append(column)
                values.append(1.0 / len(words))
    matrix = sparse.csr_matrix((values, (rows, columns)), shape=(len(documents), size), dtype=np.float64)
    matrix.sum_duplicates()
    return matrix


def fit_to_documents(
    initial: Matrix, bags: sparse.csr_matrix, targets: NDArray[np.float64], ridge: float, iterations: int
) -> tuple[Matrix, float]:
    """Word vectors whose per-document averages best match ``targets`` (the teacher's centered document
    vectors), kept near ``initial`` (the teacher's own word vectors, rescaled to the targets):
    ``min |B E - T|^2 + lambda |E - a E0|^2``, solved by conjugate gradients on all columns at once
    (Tokenlearn-style, but linear and closed-form: deterministic). Returns the vectors and the R^2 of the
    fit."""
    start = initial.astype(np.float64)
    predicted = bags @ start
    scale = float((predicted * targets).sum() / max(float((predicted * predicted).sum()), 1e-12))
    start *= scale
    occurrence = np.asarray(bags.multiply(bags).sum(axis=0)).ravel()
    strength = ridge * float(occurrence[occurrence > 0].mean()) if occurrence.any() else ridge
    transposed = bags.T.tocsr()

    def normal(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(transposed @ (bags @ x)) + strength * x

    solution = start.copy()
    residual = np.asarray(transposed @ targets) + strength * start - normal(solution)
    direction = residual.copy()
    squared = (residual * residual).sum(axis=0)
    for _ in range(iterations):
        if not squared.any():
            break
        product = normal(direction)
        curvature = (direction * product).sum(axis=0)
        step = np.divide(squared, curvature, out=np.zeros_like(squared), where=curvature > 0)
        solution += direction * step
        residual -= product * step
        updated = (residual * residual).sum(axis=0)
        direction = residual + direction * np.divide(
            updated, squared, out=np.zeros_like(updated), where=squared > 0
        )
        squared = updated
    error = float(((bags @ solution - targets) ** 2).sum())
    total = float((targets**2).sum())
    return solution.astype(np.float32), 1.0 - error / total if total else 0.0


def fingerprint(words: Sequence[str], weights: Matrix) -> str:
    digest = hashlib.sha256()
    digest.update("\n".join(words).encode("utf-8"))
    digest.update(np.ascontiguousarray(weights, dtype="<f4").tobytes())
    return digest.hexdigest()


def distill(
    corpus: Iterable[str],
    teacher: Embedder,
    folder: Path,
    options: DistillOptions | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    sources: Sequence[str] = (),
    fit_documents: Iterable[str] = (),
) -> DistillReport:
    """Build the static model from ``corpus`` (raw documents) and ``teacher``, and save it to ``folder``
    with its ``MODEL_DEFAULTS_FILE`` (join threshold, centering, provenance).

    With ``fit_documents`` (raw documents, ideally the kind of text the model will embed), the teacher also
    embeds each of them whole, and the word vectors are fitted so that a document's word average matches
    the teacher's vector of the document (``fit_to_documents``): words then carry what they mean in
    context, not only alone."""
    options = options or DistillOptions()
    started = time.perf_counter()
    counted = count_words(corpus, progress=progress)
    words = select_vocabulary(counted.counts, options.min_count, options.max_words)
    if not words:
        raise ConfigurationError(
            f"no word occurs {options.min_count} times in the corpus: give more text or lower --min-count"
        )
    normalizer = TextNormalizer()
    fit_texts = sorted(set(_normalized(fit_documents, normalizer)))
    counting_done = time.perf_counter()
    word_vectors = teacher_vectors(words, teacher, options.batch_size, cache_dir, progress, "teacher: words")
    document_vectors = teacher_vectors(
        fit_texts, teacher, options.batch_size, cache_dir, progress, "teacher: documents"
    )
    teacher_done = time.perf_counter()
    dimensions = min(options.dimensions or word_vectors.shape[1], word_vectors.shape[1])
    mean, axes = principal_axes(word_vectors, dimensions)
    if options.dimensions is None or options.dimensions >= word_vectors.shape[1]:
        axes = np.eye(word_vectors.shape[1])  # no reduction: only centered
    vectors = ((word_vectors.astype(np.float64) - mean) @ axes.T).astype(np.float32)
    if options.sif is not None:
        vectors = vectors * sif_weights(words, counted.counts, options.sif)[:, None]
    fit_r2: float | None = None
    if fit_texts:
        splitter = WordSplitter()
        bags = bag_of_words(
            [splitter.words(text[: options.max_chars]) for text in fit_texts],
            {word: index for index, word in enumerate(words)},
            len(words),
        )
        targets = document_vectors.astype(np.float64)
        # Centered: the tracker compares centered vectors, and the shared e5 direction would drown the rest.
        targets = (targets - targets.mean(axis=0)) @ axes.T
        vectors, fit_r2 = fit_to_documents(vectors, bags, targets, options.ridge, options.fit_iterations)
    # Row 0 is the unknown word: zero, so it adds nothing to a text's average direction.
    weights = np.vstack([np.zeros((1, vectors.shape[1]), dtype=np.float32), vectors]).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    save_static_model(folder, build_tokenizer(words), weights)
    total_words = sum(counted.counts.values())
    report = DistillReport(
        folder=folder,
        documents=counted.documents,
        skipped_documents=counted.skipped,
        corpus_words=total_words,
        vocabulary=len(words),
        dimension=int(weights.shape[1]),
        coverage=sum(counted.counts[word] for word in words) / total_words if total_words else 0.0,
        fit_documents=len(fit_texts),
        fit_r2=fit_r2,
        fingerprint=fingerprint(words, weights),
        teacher=teacher.name,
        count_seconds=counting_done - started,
        teacher_seconds=teacher_done - counting_done,
        total_seconds=time.perf_counter() - started,
    )
    declared = {
        "threshold": options.threshold,
        "centered": options.centered,
        "prefix": "",
        "fingerprint": report.fingerprint,
        "teacher": teacher.name,
        "recipe": {
            "sources": list(sources),
            "min_count": options.min_count,
            "max_words": options.max_words,
            "dimensions": options.dimensions,
            "sif": options.sif,
            "fit_documents": len(fit_texts),
            "ridge": options.ridge if fit_texts else None,
        },
        "vocabulary": report.vocabulary,
        "dimension": report.dimension,
    }
    (folder / MODEL_DEFAULTS_FILE).write_text(json.dumps(declared, indent=2, ensure_ascii=False) + "\n")
    return report


def _normalized(documents: Iterable[str], normalizer: TextNormalizer) -> Iterator[str]:
    for document in documents:
        try:
            yield normalizer.normalize(document).text
        except ArticleRejected:
            continue
