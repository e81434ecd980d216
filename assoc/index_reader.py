"""Opening an index directory for lookups: verify the manifest, load encoder, vectors, table, text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assoc.encoders import FrameEncoderBase, load_encoder
from assoc.errors import IndexMismatchError
from assoc.index_build import BASELINES_DIR, ENCODER_DIR, PROGRAMS_FILE, VISUAL_DIR
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

    @property
    def signals(self) -> list[str]:
        return list(self.manifest.get("signals", []))

    @property
    def open_set_threshold(self) -> float:
        return float(self.manifest.get("settings", {}).get("open_set_threshold", 0.5))

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


def open_index(path: str | Path, verify: bool = True, es: dict | None = None) -> OpenIndex:
    """Open an index; refuse one whose files do not match its manifest or whose encoder differs."""
    path = Path(path)
    try:
        manifest = read_manifest(path, verify=verify)
    except IndexBackendError as e:
        raise IndexMismatchError(str(e)) from e
    table, visual, baselines = _visual(path, manifest) if "visual" in manifest.get("signals", []) else (None, None, {})
    programs = {p.program_id: p for p in read_jsonl_strict(path / PROGRAMS_FILE, Program)}
    return OpenIndex(path, manifest, programs, table, visual, baselines, es)


def check_encoder(index: OpenIndex, encoder: FrameEncoderBase) -> None:
    """Refuse to query an index with an encoder other than the one it was built with."""
    expected = index.manifest["encoder"]["checksum"]
    if encoder.checksum != expected:
        raise IndexMismatchError(
            f"{index.path}: built with encoder {expected}; refusing encoder {encoder.checksum}")
