"""Opening an index directory for lookups: verify the manifest, load encoder, vectors, table, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assoc.encoders import FrameEncoderBase, load_encoder
from assoc.errors import IndexMismatchError, InputError
from assoc.index_build import (
    BASELINES_DIR,
    CATEGORY_DIR,
    ENCODER_DIR,
    PROGRAMS_FILE,
    REFERENCE_BASELINES,
    RERANKER_DIR,
    VISUAL_DIR,
)
from assoc.jsonl import read_jsonl_strict
from assoc.schema import Program
from indexes.errors import IndexBackendError
from indexes.keyframes import KeyframeTable
from indexes.manifest import read_manifest
from indexes.vector import VectorIndex, load_vector_index


@dataclass
class VisualIndex:
    """One encoder with its vectors over the shared keyframe table."""

    name: str
    encoder: FrameEncoderBase
    vectors: VectorIndex


@dataclass
class OpenIndex:
    path: Path
    manifest: dict
    programs: dict[str, Program]
    table: KeyframeTable | None
    visual: VisualIndex | None
    baselines: dict[str, VisualIndex] = field(default_factory=dict)
    es: dict | None = None  # Elasticsearch connection settings, when the text index lives there
    _text: object = None
    _category: object = None
    _reranker: object = None
    _ends: object = None

    @property
    def signals(self) -> list[str]:
        return list(self.manifest.get("signals", []))

    @property
    def comparisons(self) -> dict[str, VisualIndex]:
        """The runs indexed with `--compare-encoder` (ablations asked for at build time): every baseline but the
        reference ones."""
        return {n: v for n, v in self.baselines.items() if n not in REFERENCE_BASELINES}

    @property
    def open_set_threshold(self) -> float:
        return float(self.manifest.get("settings", {}).get("open_set_threshold", 0.5))

    def align_settings(self):
        """Temporal alignment settings for this index (a keyframe's stretch follows its sampling rate)."""
        from assoc.visual import AlignSettings

        fps = float(self.manifest.get("settings", {}).get("keyframe_fps", 1.0)) or 1.0
        return AlignSettings(keyframe_interval=1.0 / fps)

    def keyframe_ends(self):
        """Per keyframe, where its stretch ends (computed once per open index)."""
        if self._ends is None and self.table is not None:
            from assoc.visual import keyframe_ends

            s = self.align_settings()
            self._ends = keyframe_ends(self.table, s.keyframe_interval, s.max_stretch)
        return self._ends

    def category_model(self):
        """The category model, loaded on first use (None when the index has none)."""
        if self._category is None and "category" in self.signals:
            from assoc.category.model import load_category_model

            self._category = load_category_model(self.path / CATEGORY_DIR)
            if self._category.checksum != self.manifest["category"]["checksum"]:
                raise IndexMismatchError(f"{self.path}: the category model does not match the manifest's checksum")
        return self._category

    def reranker(self):
        """The learned re-ranker, loaded on first use (None when the index has none)."""
        if self._reranker is None and "reranker" in self.manifest:
            from assoc.rerank.model import load_reranker

            self._reranker = load_reranker(self.path / RERANKER_DIR)
            if self._reranker.checksum != self.manifest["reranker"]["checksum"]:
                raise IndexMismatchError(f"{self.path}: the re-ranker does not match the manifest's checksum")
        return self._reranker

    def reranker_ablations(self) -> dict:
        """Ablation re-rankers stored with the re-ranker (name -> model), for `assoc eval`."""
        from assoc.rerank.model import load_reranker
        from assoc.rerank.train import ABLATIONS_DIR

        names = self.manifest.get("reranker", {}).get("ablations", [])
        return {n: load_reranker(self.path / RERANKER_DIR / ABLATIONS_DIR / n) for n in names}

    def category_ablations(self) -> dict:
        """Ablation models stored with the category model (name -> model), for `assoc eval`."""
        from assoc.category.pipeline import load_category_ablations

        return load_category_ablations(self.path / CATEGORY_DIR, self.manifest.get("category", {}).get("ablations", []))

    def text_signal(self):
        """The text signal, opened on first use (it loads the semantic model)."""
        if self._text is None and "text" in self.signals:
            from assoc.text.signal import TextSignal

            self._text = TextSignal(self.path, self.manifest["text"], list(self.programs.values()), self.es)
        return self._text


def _visual(path: Path, manifest: dict) -> tuple[KeyframeTable, VisualIndex, dict[str, VisualIndex]]:
    try:
        vectors = load_vector_index(path / VISUAL_DIR)
        table = KeyframeTable.load(path / VISUAL_DIR)
    except IndexBackendError as e:
        raise IndexMismatchError(str(e)) from e
    encoder = load_encoder(path / ENCODER_DIR)
    expected = manifest["encoder"]["checksum"]
    if encoder.checksum != expected:
        raise IndexMismatchError(
            f"{path}: index was built with encoder {expected}, but the encoder found is {encoder.checksum}")
    if vectors.ntotal > len(table):  # fewer after `index remove`: removed rows stay as orphans
        raise IndexMismatchError(f"{path}: {vectors.ntotal} vectors but only {len(table)} keyframes in the table")
    baselines = {}
    for name in manifest.get("baselines", []):
        try:
            vectors_b = load_vector_index(path / BASELINES_DIR / name)
        except IndexBackendError as e:
            raise IndexMismatchError(str(e)) from e
        baselines[name] = VisualIndex(name, load_encoder(path / BASELINES_DIR / name / ENCODER_DIR), vectors_b)
    return table, VisualIndex("visual", encoder, vectors), baselines


VECTOR_DEVICES = ("auto", "cpu", "gpu")


def place_vectors(index: "OpenIndex", device: str) -> None:
    """Search the keyframe vectors on the GPU when asked (gpu) or when one is usable (auto)."""
    from indexes.vector import FaissFlatIndex, gpu_available

    if device not in VECTOR_DEVICES:
        raise InputError(f"unknown vector device '{device}'; known: {', '.join(VECTOR_DEVICES)}")
    if device == "cpu" or index.visual is None or (device == "auto" and not gpu_available()):
        return
    for v in [index.visual, *index.baselines.values()]:
        if isinstance(v.vectors, FaissFlatIndex):
            v.vectors.use_gpu()


def open_index(path: str | Path, verify: bool = True, es: dict | None = None, vector_device: str = "cpu") -> OpenIndex:
    """Open an index; refuse one whose files do not match its manifest or whose encoder differs."""
    path = Path(path)
    try:
        manifest = read_manifest(path, verify=verify)
    except IndexBackendError as e:
        raise IndexMismatchError(str(e)) from e
    table, visual, baselines = _visual(path, manifest) if "visual" in manifest.get("signals", []) else (None, None, {})
    programs = {p.program_id: p for p in read_jsonl_strict(path / PROGRAMS_FILE, Program)}
    index = OpenIndex(path, manifest, programs, table, visual, baselines, es)
    place_vectors(index, vector_device)
    return index


def check_encoder(index: OpenIndex, encoder: FrameEncoderBase) -> None:
    """Refuse to query an index with an encoder other than the one it was built with."""
    expected = index.manifest["encoder"]["checksum"]
    if encoder.checksum != expected:
        raise IndexMismatchError(
            f"{index.path}: built with encoder {expected}; refusing encoder {encoder.checksum}")
