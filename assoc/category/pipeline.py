"""`assoc train category`: featurise the catalog's episode segments and the labelled clips, train the
model (and its ablations), save them as self-describing directories."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from assoc.catalog import Catalog, load_queries
from assoc.category.data import Examples, SegmentSettings, episode_segments, featurising_pool, query_examples
from assoc.category.features import TextTokens
from assoc.category.model import CategorySettings
from assoc.category.train import ABLATIONS, TrainSettings, ablation_settings, train_category
from assoc.encoders import load_encoder
from assoc.errors import InputError
from assoc.taxonomy import Taxonomy

ABLATIONS_DIR = "ablations"


@dataclass
class CategoryPipelineReport:
    segments: int = 0
    train_clips: int = 0
    val_clips: int = 0
    feature_seconds: float = 0.0
    models: dict = field(default_factory=dict)  # name -> {"val": metrics, "seconds", "best_epoch"}
    failures: list[str] = field(default_factory=list)


def train_category_models(catalog: Catalog, taxonomy: Taxonomy, encoder_dir: str | Path, out: str | Path,
                          train_queries: str | Path | None = None, val_queries: str | Path | None = None,
                          settings: CategorySettings | None = None, train_settings: TrainSettings | None = None,
                          segments: SegmentSettings | None = None, ablations: bool = True,
                          semantic_model: str | None = None,
                          progress: Callable[[str, int, int], None] | None = None,
                          workers: int = 1) -> CategoryPipelineReport:
    """Train on episode segments (+ train-split clips); early-stop on val clips (or on held-out programs'
    segments when no val clips are given). Ablation models go to OUT/ablations/NAME. `workers` > 1: episodes and
    clips are decoded and embedded in that many processes (the same features)."""
    from assoc.text.semantic import SemanticModel

    if workers < 1:
        raise InputError(f"workers must be at least 1 (got {workers})")
    settings = settings or CategorySettings()
    report = CategoryPipelineReport()
    t0 = time.time()
    encoder = load_encoder(encoder_dir)
    tokens = TextTokens(SemanticModel(semantic_model))
    step = (lambda stage: (lambda i, n: progress(stage, i, n))) if progress else (lambda stage: None)
    pool = featurising_pool(workers, encoder, segments) if workers > 1 else None
    try:
        train = episode_segments(catalog, encoder, tokens, segments, progress=step("segments"), pool=pool)
        report.segments = len(train)
        if train_queries:
            clips, rejected = load_queries(train_queries)
            report.failures += [str(e) for e in rejected]
            q = query_examples(train_queries, clips, encoder, tokens, progress=step("train clips"), pool=pool)
            report.train_clips = len(q)
            train.extend(q)
        if val_queries:
            clips, rejected = load_queries(val_queries)
            report.failures += [str(e) for e in rejected]
            val = query_examples(val_queries, clips, encoder, tokens, progress=step("val clips"), pool=pool)
            report.failures += val.failures
        else:
            train, val = _split_by_group(train)
    finally:
        if pool is not None:
            pool.close()
    report.val_clips = len(val)
    report.failures += train.failures
    report.feature_seconds = round(time.time() - t0, 1)
    if len(val) == 0:
        raise InputError("no validation examples (every val clip failed, or too few programs to hold some out)")
    leaves = taxonomy.leaf_paths()
    info = {"encoder": encoder.checksum, "text_model": tokens.semantic.describe(),
            "segments": asdict(segments or SegmentSettings())}
    runs = {"model": settings}
    if ablations:
        runs.update({name: ablation_settings(settings, name) for name in ABLATIONS})
    out = Path(out)
    for name, s in runs.items():
        model, r = train_category(train, val, s, train_settings, leaves,
                                  progress=(lambda e, n, **kw: progress(f"train {name}", e, n)) if progress else None,
                                  info=info)
        model.save(out if name == "model" else out / ABLATIONS_DIR / name)
        report.models[name] = {"val": r.val, "seconds": r.seconds, "best_epoch": r.best_epoch, "epochs": r.epochs}
    return report


def load_category_ablations(model_dir: str | Path, names: list[str] | None = None) -> dict:
    """The ablation models saved beside a category model (MODEL_DIR/ablations/NAME), by name: `names`, or every
    folder there."""
    from assoc.category.model import load_category_model
    from assoc.index_build import subdirectories

    root = Path(model_dir) / ABLATIONS_DIR
    return {n: load_category_model(root / n) for n in (subdirectories(root) if names is None else names)}


def _split_by_group(examples: Examples, share: float = 0.15, seed: int = 0) -> tuple[Examples, Examples]:
    """Hold out whole programs' segments for validation."""
    import numpy as np

    groups = sorted(set(examples.groups))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(groups, size=max(1, int(len(groups) * share)), replace=False)) if len(groups) > 1 else set()
    train, val = Examples(failures=list(examples.failures)), Examples()
    for f, p, g in zip(examples.features, examples.paths, examples.groups):
        target = val if g in held else train
        target.features.append(f)
        target.paths.append(p)
        target.groups.append(g)
    return train, val
