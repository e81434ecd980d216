"""The keyframe table: FAISS id -> (program, episode, timestamp). Ids are row numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexes.errors import IndexCorruptError


@dataclass
class KeyframeTable:
    programs: list[str] = field(default_factory=list)  # program index -> program_id
    episodes: list[str] = field(default_factory=list)  # episode index -> episode_id
    episode_program: list[int] = field(default_factory=list)  # episode index -> program index
    program_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # per keyframe id
    episode_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    FILE = "keyframes.npz"

    def __len__(self) -> int:
        return len(self.t)

    def add_episode(self, program_id: str, episode_id: str, times: np.ndarray) -> np.ndarray:
        """Register keyframes of one episode; return their new ids."""
        if program_id in self._program_pos:
            p = self._program_pos[program_id]
        else:
            p = len(self.programs)
            self.programs.append(program_id)
            self._program_pos[program_id] = p
        e = len(self.episodes)
        self.episodes.append(episode_id)
        self.episode_program.append(p)
        start = len(self.t)
        n = len(times)
        self.program_idx = np.concatenate([self.program_idx, np.full(n, p, np.int32)])
        self.episode_idx = np.concatenate([self.episode_idx, np.full(n, e, np.int32)])
        self.t = np.concatenate([self.t, np.asarray(times, np.float32)])
        self._rows = None
        return np.arange(start, start + n, dtype=np.int64)

    def program_rows(self, program_id: str) -> np.ndarray:
        """The keyframe ids (rows) of one program, ascending (none for a program the table does not know)."""
        p = self._program_pos.get(program_id)
        if p is None:
            return np.zeros(0, np.int64)
        if self._rows is None:  # one sort, on first use
            order = np.argsort(self.program_idx, kind="stable")
            bounds = np.searchsorted(self.program_idx[order], np.arange(len(self.programs) + 1))
            self._rows = (order.astype(np.int64), bounds)
        order, bounds = self._rows
        return order[bounds[p] : bounds[p + 1]]

    def __post_init__(self) -> None:
        self._program_pos = {p: i for i, p in enumerate(self.programs)}
        self._rows: tuple[np.ndarray, np.ndarray] | None = None

    def save(self, directory: Path) -> list[str]:
        np.savez(directory / self.FILE, program_idx=self.program_idx, episode_idx=self.episode_idx, t=self.t)
        meta = {"programs": self.programs, "episodes": self.episodes, "episode_program": self.episode_program}
        (directory / "keyframes.json").write_text(json.dumps(meta, ensure_ascii=False))
        return [self.FILE, "keyframes.json"]

    @classmethod
    def load(cls, directory: Path) -> "KeyframeTable":
        try:
            meta = json.loads((directory / "keyframes.json").read_text(encoding="utf-8"))
            with np.load(directory / cls.FILE) as z:
                arrays = {k: z[k] for k in ("program_idx", "episode_idx", "t")}
        except (OSError, ValueError, KeyError) as e:
            raise IndexCorruptError(f"{directory}: cannot read keyframe table: {e}") from e
        return cls(programs=meta["programs"], episodes=meta["episodes"],
                   episode_program=meta["episode_program"], **arrays)
