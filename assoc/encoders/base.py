"""The frame encoder interface and self-describing saved directories (config.json + weights)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from assoc.errors import ModelError
from indexes.manifest import sha256_file as file_sha256

CONFIG = "config.json"
FORMAT_VERSION = 1


class FrameEncoderBase(ABC):
    """Maps RGB frames (N x H x W x 3 uint8) to L2-normalised vectors (N x dim float32)."""

    kind: str = ""

    @property
    @abstractmethod
    def dim(self) -> int: ...

    @abstractmethod
    def embed(self, frames: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def config(self) -> dict: ...

    def _write_weights(self, directory: Path) -> list[str]:
        """Write weight files into `directory`; return their names."""
        return []

    def save(self, directory: str | Path) -> str:
        """Write the encoder atomically (temporary sibling, then rename); return its checksum."""
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}."))
        try:
            files = self._write_weights(tmp)
            config = dict(self.config(), kind=self.kind, format_version=FORMAT_VERSION,
                          files={f: file_sha256(tmp / f) for f in files}, checksum=self.checksum)
            (tmp / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
            if directory.exists():
                shutil.rmtree(directory)
            os.replace(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return config["checksum"]

    @property
    def checksum(self) -> str:
        """Identifies the encoder's weights and settings; an index stores it and refuses others."""
        keep = {k: v for k, v in self.config().items() if k != "training"}
        h = hashlib.sha256(json.dumps(dict(keep, kind=self.kind), sort_keys=True).encode())
        h.update(self._weights_digest().encode())
        return h.hexdigest()[:16]

    def _weights_digest(self) -> str:
        """A digest of the weights' values (empty for encoders without weights)."""
        return ""


def load_encoder(directory: str | Path) -> FrameEncoderBase:
    """Load a saved encoder; needs no flags: the config beside the weights says what it is."""
    from assoc.encoders.registry import ENCODER_KINDS

    directory = Path(directory)
    path = directory / CONFIG
    if not path.is_file():
        raise ModelError(f"{directory}: not an encoder directory (no {CONFIG})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelError(f"{path}: invalid JSON: {e}") from e
    kind = config.get("kind")
    if kind not in ENCODER_KINDS:
        raise ModelError(f"{path}: unknown encoder kind '{kind}'; known: {', '.join(ENCODER_KINDS)}")
    for name, digest in config.get("files", {}).items():
        f = directory / name
        if not f.is_file():
            raise ModelError(f"{directory}: missing weight file {name}")
        if file_sha256(f) != digest:
            raise ModelError(f"{directory}: weight file {name} does not match its checksum")
    return ENCODER_KINDS[kind].from_saved(directory, config)
