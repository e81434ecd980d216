"""`assoc demo`: the whole pipeline on the small preset, every stage real, in about ten minutes on 2 CPU cores.

synth -> a short MoCo encoder training -> category model -> index -> re-ranker (val split) -> eval (test split)
-> the results table with the baselines and ablations. The encoder training is deliberately short (one
pass over the frames at a small size); `assoc train encoder` with more epochs is the real thing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from assoc.catalog import load_catalog
from assoc.index_build import BuildSettings, build_index
from assoc.taxonomy import load_taxonomy
from eval.runner import evaluate
from eval.synth.generate import synthesize
from eval.synth.presets import get_preset

STAGES = 6


def _staged(progress):
    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress(stage)
        bars[stage](done, total)

    return update if progress else None


def run_demo(out: str | Path, preset: str = "small", seed: int = 0, arch: str = "tinynet_e", image_size: int = 96,
             encoder_epochs: int = 1, encoder_batch: int = 64, category_epochs: int = 10, fresh: bool = False,
             log: Callable[[str], None] = print, progress: Callable[[str], Callable] | None = None,
             workers: int = 2) -> dict:
    from assoc.category.data import SegmentSettings
    from assoc.category.pipeline import train_category_models
    from assoc.category.train import TrainSettings
    from assoc.encoders import load_encoder
    from assoc.index_update import set_reranker
    from assoc.rerank.train import train_reranker
    from assoc.training.augment import AugmentSettings
    from assoc.training.moco import MocoSettings
    from assoc.training.train_encoder import train_encoder

    out = Path(out)
    universe, report_dir = out / "universe", out / "report"
    clips = universe / "clips"
    timings: dict[str, float] = {}
    step = iter(range(1, STAGES + 1))

    def stage(name: str, message: str) -> None:
        timings[name] = time.perf_counter()
        log(f"[{next(step)}/{STAGES}] {message}")

    def done(name: str) -> None:
        timings[name] = round(time.perf_counter() - timings[name], 1)

    p = get_preset(preset)
    stats_path = universe / "stats.json"
    previous = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    wanted = json.loads(json.dumps(p.as_dict()))  # as stats.json holds it: tuples become lists
    if not fresh and previous.get("preset") == wanted and previous.get("seed") == seed:
        stage("synth", f"reusing the {preset} universe in {universe} (same preset and seed)")
    else:
        stage("synth", f"synthesising the {preset} universe (seed {seed}) into {universe}")
        synthesize(universe, p, seed, progress=progress("synth") if progress else None)
    done("synth")
    catalog = load_catalog(universe / "catalog.jsonl", load_taxonomy())

    stage("encoder", f"training a {arch} frame encoder with MoCo ({encoder_epochs} epoch, {image_size} px; no labels)")
    moco = MocoSettings(arch=arch, epochs=encoder_epochs, batch_size=encoder_batch, lr=0.2, train_fps=0.5, seed=seed,
                        augment=AugmentSettings(image_size=image_size))
    bar = progress("moco") if progress else None
    train_encoder(catalog, out / "encoder", moco, out / "encoder.ckpt",
                  progress=(lambda step, total, **_: bar(step, total)) if bar else None)
    done("encoder")

    stage("category", "training the category model (NeXtVLAD + context gating + MoE) and its ablations")
    train_category_models(catalog, load_taxonomy(), out / "encoder", out / "category", clips / "train.jsonl",
                          clips / "val.jsonl", train_settings=TrainSettings(epochs=category_epochs, patience=3, seed=seed),
                          segments=SegmentSettings(per_episode=4, seed=seed), progress=_staged(progress),
                          workers=workers)
    done("category")

    stage("index", "indexing keyframes (trained, untrained, colour-histogram, luma-thumbnail and relative-histogram encoders), text, category model "
                   "and the episodes' verification frames")
    build_index(catalog, out / "index", load_encoder(out / "encoder"),
                BuildSettings(category_model=str(out / "category"), episode_frames="all"),
                progress=progress("index") if progress else None,
                workers=workers)
    done("index")

    stage("reranker", "training the re-ranker, its calibration and the open-set threshold on the val split")
    train_reranker(out / "index", clips / "val.jsonl", out / "reranker", progress=progress("val") if progress else None,
                   workers=workers)
    set_reranker(out / "index", out / "reranker")
    done("reranker")

    stage("eval", f"evaluating every run on {clips / 'test.jsonl'}")
    report = evaluate(out / "index", clips / "test.jsonl", report_dir, progress=progress("eval") if progress else None,
                      workers=workers)
    done("eval")
    report["demo_seconds"] = timings
    return report
