"""assoc synth: generate a program universe."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import boundary, progress_bar, settings


@boundary
def synth(
    preset: str = typer.Option("small", help="tiny (tests), small (demo) or bench (reported figures)"),
    seed: int = typer.Option(0, help="the universe is a pure function of preset and seed"),
    out: Path = typer.Option(..., help="output directory"),
    workers: int = typer.Option(0, help="processes (0: the ASSOC_WORKERS setting, else one per core)"),
    width: int = typer.Option(None, help="override the preset's frame width (even)"),
    height: int = typer.Option(None, help="override the preset's frame height (even)"),
    fps: float = typer.Option(None, help="override the preset's frame rate"),
    videos: bool = typer.Option(True, help="render the videos; --no-videos: the catalog and clip files alone (the "
                                "same ones), for text-only indexes and evals, in seconds"),
) -> None:
    """Generate a program universe: catalog.jsonl, episode videos, clips/{train,val,test}.jsonl, stats.json."""
    from eval.synth.generate import synthesize
    from eval.synth.presets import get_preset

    p = get_preset(preset, width=width, height=height, fps=fps)
    stats = synthesize(out, p, seed, workers=workers or settings().workers or None, progress=progress_bar("synth"),
                       videos=videos)
    typer.echo(json.dumps(stats, ensure_ascii=False, indent=2))
