"""Universe sizes: `tiny` for tests, `small` for the demo, `bench` for reported figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from assoc.errors import InputError


@dataclass(frozen=True)
class Preset:
    name: str
    n_catalog: int
    n_heldout: int  # generated like the others, left out of the catalog (open set)
    episodes: tuple[int, int]
    episode_seconds: tuple[float, float]
    clips: dict  # split -> number of clips
    open_fraction: dict  # split -> fraction of clips from held-out programs
    clip_seconds: tuple[float, float]
    width: int = 256
    height: int = 144
    fps: float = 8.0
    crf: int = 26

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "tiny": Preset("tiny", n_catalog=8, n_heldout=4, episodes=(1, 1), episode_seconds=(14, 18),
                   clips={"train": 4, "val": 4, "test": 10}, open_fraction={"train": 0.25, "val": 0.25, "test": 0.3},
                   clip_seconds=(4, 8), width=128, height=72),
    "small": Preset("small", n_catalog=60, n_heldout=20, episodes=(1, 2), episode_seconds=(30, 45),
                    clips={"train": 60, "val": 60, "test": 120}, open_fraction={"train": 0.1, "val": 0.25, "test": 0.25},
                    clip_seconds=(5, 30)),
    "bench": Preset("bench", n_catalog=1000, n_heldout=300, episodes=(1, 2), episode_seconds=(50, 80),
                    clips={"train": 400, "val": 600, "test": 3000}, open_fraction={"train": 0.1, "val": 0.25, "test": 0.25},
                    clip_seconds=(5, 60)),
}


def get_preset(name: str, **overrides) -> Preset:
    """A preset by name, with optional field overrides (resolution, fps...)."""
    if name not in PRESETS:
        raise InputError(f"unknown preset '{name}'; known presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    clean = {k: v for k, v in overrides.items() if v is not None}
    for k in ("width", "height"):
        if k in clean and clean[k] % 2:
            raise InputError(f"{k} must be even for H.264, got {clean[k]}")
    return replace(preset, **clean) if clean else preset
