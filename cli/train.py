"""assoc train: models trained from the catalog."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import EXIT_FAILURE, boundary, load_catalog_or_fail

app = typer.Typer(help="Train models from the catalog.", no_args_is_help=True)


def _moco_progress():
    import sys

    from tqdm import tqdm

    state: dict = {}

    def update(step: int, total: int, loss: float, acc: float) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc="moco", file=sys.stderr, disable=None, dynamic_ncols=True)
        bar = state["bar"]
        bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", refresh=False)
        bar.update(step - bar.n)
        if step >= total:
            bar.close()

    return update


@app.command("encoder")
@boundary
def encoder(
    catalog: Path = typer.Option(..., help="catalog.jsonl: training frames come from its episodes (no labels)"),
    out: Path = typer.Option(..., help="encoder directory to write (config.json + model.safetensors)"),
    arch: str = typer.Option("efficientnet_b0", help="timm architecture"),
    epochs: int = typer.Option(10, help="passes over the training frames (0: save the untrained baseline, "
                                        "standardisation and projection fitted on the catalog's frames)"),
    batch_size: int = typer.Option(128, help="frames per step"),
    splits: int = typer.Option(2, help="split-BN sub-batches (keep batch-size / splits at 64 or more)"),
    optimizer: str = typer.Option("sgd", help="sgd (MoCo v2's) or adamw"),
    lr: float = typer.Option(0.0, help="learning rate on a cosine schedule (0: for sgd 0.03 per batch of 256, "
                                      "scaled linearly; 1e-3 for adamw)"),
    image_size: int = typer.Option(128, help="training and embedding input size"),
    embed_dim: int = typer.Option(256, help="dimension of the saved encoder's vectors"),
    queue: int = typer.Option(0, help="negatives in the queue (0: min(16384, frames / 2))"),
    fps: float = typer.Option(1.0, help="training frames sampled per second of episode"),
    standard: bool = typer.Option(True, help="MoCo v2's augmentations (off: resize only; for ablations)"),
    anti_shortcut: bool = typer.Option(True, help="paint subtitles/logos/borders on one view"),
    attention: bool = typer.Option(True, help="WS-DAN attention cropping and dropping"),
    episode_positive_p: float = typer.Option(0.0, help="share of key views taken from another frame of the same episode"),
    mask: str = typer.Option("shot", help="queue entries that are no negatives of a query: shot (its shot and "
                                             "the 2 s around it), episode (its episode) or program (its program's "
                                             "episodes, which share their sets)"),
    luma: bool = typer.Option(True, help="the encoder sees each frame's standardised luma (off: RGB)"),
    crop_min: float = typer.Option(0.2, help="smallest share of the frame's area a random resized crop keeps"),
    weights: Path = typer.Option(None, help="start from a local timm weight file"),
    freeze_bn: bool = typer.Option(False, help="batch norm keeps its starting statistics (initial or the weight "
                                               "file's) while training"),
    train_stages: int = typer.Option(0, help="train only the backbone's last N stages and its head conv "
                                             "(0: the whole backbone)"),
    head_norm: bool = typer.Option(False, help="standardise the pooled features by their batch before the MLP head"),
    momentum: float = typer.Option(0.99, help="the key encoder's momentum"),
    checkpoint_dir: Path = typer.Option(None, help="where checkpoints go (default: OUT.ckpt); a matching one resumes"),
    device: str = typer.Option(None, help="cpu or cuda (default: cuda when present)"),
    seed: int = typer.Option(0, help="seed"),
) -> None:
    """Train the frame encoder with MoCo v2 on the catalog's own frames."""
    from assoc.training.augment import AugmentSettings
    from assoc.training.moco import MocoSettings
    from assoc.training.train_encoder import train_encoder

    cat = load_catalog_or_fail(catalog)
    settings = MocoSettings(arch=arch, epochs=epochs, batch_size=batch_size, splits=splits, optimizer=optimizer, lr=lr,
                            embed_dim=embed_dim, queue=queue, episode_positive_p=episode_positive_p,
                            mask=mask, freeze_bn=freeze_bn, train_stages=train_stages, head_norm=head_norm,
                            momentum=momentum,
                            train_fps=fps, attention=attention, seed=seed, weights=str(weights) if weights else None,
                            augment=AugmentSettings(image_size=image_size, standard=standard, anti_shortcut=anti_shortcut,
                                                    luma=luma, crop_scale=(crop_min, 1.0)))
    report = train_encoder(cat, out, settings, checkpoint_dir, device, progress=_moco_progress())
    typer.echo(json.dumps({k: v for k, v in vars(report).items() if k != "failures"}, indent=2))
    for f in report.failures:
        typer.echo(f"failed: {f}", err=True)
    if cat.errors or report.failures:
        raise typer.Exit(EXIT_FAILURE)


def _staged_progress():
    """One tqdm bar per stage (segments, clips, each model's epochs)."""
    from cli.common import progress_bar

    bars: dict = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            bars[stage] = progress_bar(stage)
        bars[stage](done, total)

    return update


@app.command("category")
@boundary
def category(
    catalog: Path = typer.Option(..., help="catalog.jsonl: episode segments are labelled with their program's category"),
    encoder: Path = typer.Option(..., help="frame encoder directory (the one the index is built with)"),
    out: Path = typer.Option(..., help="category model directory to write; ablations go to OUT/ablations/NAME"),
    queries: Path = typer.Option(None, help="labelled training clips (the train split's clips.jsonl)"),
    val: Path = typer.Option(None, help="labelled validation clips for early stopping (default: held-out programs' segments)"),
    epochs: int = typer.Option(40, help="most epochs (early stopping usually ends sooner)"),
    patience: int = typer.Option(15, help="epochs without a better val score before training stops"),
    segments_per_episode: int = typer.Option(4, help="random windows cut from each episode"),
    augment: float = typer.Option(0.5, min=0.0, max=1.0,
                                  help="clip-like edits of the segments: P(colour re-grade); P(speed), P(loudness) are half of it"),
    frame_colour: bool = typer.Option(True, help="frames' colour statistics beside their encoder vectors"),
    ablations: bool = typer.Option(True, help="also train frames-only, frames+audio and mean-pool baselines"),
    seed: int = typer.Option(0, help="seed"),
    workers: int = typer.Option(1, min=1, help="decode and embed episodes and clips in this many processes, each "
                                               "with its share of the CPU threads (the same features)"),
) -> None:
    """Train the NeXtVLAD + context gating + MoE category model on frames, audio and text."""
    from assoc.category.data import SegmentSettings
    from assoc.category.model import CategorySettings
    from assoc.category.pipeline import train_category_models
    from assoc.category.train import TrainSettings
    from assoc.taxonomy import load_taxonomy

    cat = load_catalog_or_fail(catalog)
    report = train_category_models(
        cat, load_taxonomy(), encoder, out, queries, val, settings=CategorySettings(frame_colour=frame_colour),
        train_settings=TrainSettings(epochs=epochs, patience=patience, seed=seed),
        segments=SegmentSettings(per_episode=segments_per_episode, seed=seed, augment=augment), ablations=ablations,
        progress=_staged_progress(), workers=workers)
    summary = {k: v for k, v in vars(report).items() if k not in ("failures", "models")}
    summary["models"] = {name: {"val_hit@1": [round(x, 4) for x in m["val"]["hit@1"]],
                                "val_gap@20": round(m["val"]["gap@20"], 4), "seconds": m["seconds"],
                                "best_epoch": m["best_epoch"]} for name, m in report.models.items()}
    typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    for f in report.failures:
        typer.echo(f"failed: {f}", err=True)
    if cat.errors or report.failures:
        raise typer.Exit(EXIT_FAILURE)


@app.command("reranker")
@boundary
def reranker(
    index: Path = typer.Option(..., help="index directory whose signals the re-ranker learns to combine"),
    queries: Path = typer.Option(..., help="labelled clips to train on: the val split (never the test split)"),
    out: Path = typer.Option(..., help="re-ranker directory to write; the no-category ablation goes to OUT/ablations"),
    kind: str = typer.Option("gbdt", help="gbdt (gradient boosting) or logistic"),
    depth: int = typer.Option(20, help="each signal's top programs that enter the candidate pool"),
    target_precision: float = typer.Option(0.95, help="precision of the no-match decision the threshold aims for"),
    aux_visual: str = typer.Option("auto", help="the index's other visual encoders to read too (comma list; auto: "
                                                "color_histogram and luma_thumbnail when the index has them; none)"),
    verify: bool = typer.Option(True, help="read the verification of the best visual candidates against their "
                                           "episodes (decodes the catalog's videos; ablation no_verify)"),
    verify_frames: bool = typer.Option(True, help="with --verify: read how many clip frames each verification "
                                                  "compared too (a fit of one or two frames is weak evidence)"),
    verify_detail: bool = typer.Option(False, help="with --verify: check each fit on the pictures' detail too (a chance "
                                                   "fit shares only the coarse layout; decodes the episodes again at "
                                                   "128 px: about +50 % verification time, no gain measured on the "
                                                   "bench; docs/fusion.md)"),
    program_search: bool = typer.Option(False, help="with --verify: the program the title names, when no visual "
                                                     "list ranks it among those verified, is searched among its own "
                                                     "keyframes and verified (no gain measured on the bench; "
                                                     "docs/fusion.md)"),
    scan: bool = typer.Option(True, help="with --verify: scan the episodes of the text's best and of each visual "
                                         "list's best, when no alignment of theirs was verified, for where the clip "
                                         "fits (about +0.3 s a program on this CPU; docs/fusion.md)"),
    scan_depth: int = typer.Option(1, min=1, help="with --scan: the text's and the relative histogram's best this many "
                                                  "each (2: at most 7 programs instead of 3, about twice the scan's "
                                                  "time; docs/fusion.md)"),
    season_marker: bool = typer.Option(True, help="read whether the season the title names (第三季, Season 3) is the "
                                                  "candidate program's: a later season not in the catalog shares the "
                                                  "earlier ones' sets and title (ablation no_season_marker)"),
    verify_channels: str = typer.Option("luma", help="with --verify: the pictures compared, in order (comma list "
                                                     "of luma, value). luma,value: a program no alignment of which "
                                                     "fits on luminance is verified again on HSV value, which a "
                                                     "colour filter leaves as it was; no measured gain on the bench, "
                                                     "1.5x the lookup time (docs/fusion.md)"),
    seed: int = typer.Option(0, help="seed"),
    bags: int = typer.Option(1, min=1, help="average this many classifiers, each fitted on a bootstrap sample of the "
                                            "clips (bagging; with --signals-cache a refit computes no lookup)"),
    signals_cache: Path = typer.Option(None, help="a directory that keeps each clip's signals as they are computed: "
                                                  "a run resumes where an earlier one stopped, and a refit with other "
                                                  "model settings (kind, target precision, features read, seed) "
                                                  "computes nothing; refused when made with another index or other "
                                                  "signal settings"),
    workers: int = typer.Option(1, min=1, help="compute the clips' signals in this many processes, each with its "
                                               "share of the CPU threads (each loads the index)"),
) -> None:
    """Train the learned re-ranker, its calibration and the open-set threshold on labelled clips."""
    from assoc.rerank.model import RerankSettings
    from assoc.rerank.train import AUTO, train_reranker
    from cli.common import progress_bar, settings

    aux = AUTO if aux_visual == "auto" else tuple(x for x in aux_visual.split(",") if x and x != "none")
    s = RerankSettings(kind=kind, depth=depth, target_precision=target_precision, seed=seed, aux_visual=aux,
                       verify=verify, verify_frames=verify_frames, verify_detail=verify_detail,
                       season_marker=season_marker, bags=bags)
    report = train_reranker(index, queries, out, s, es=settings().es(), progress=progress_bar("signals"),
                            catalog_root=settings().catalog_root, program_search=program_search, scan=scan,
                            scan_depth=scan_depth, verify_channels=tuple(c.strip() for c in verify_channels.split(",") if c.strip()),
                            signals_cache=signals_cache, workers=workers)
    typer.echo(json.dumps({k: v for k, v in report.items() if k != "failures"}, indent=2, ensure_ascii=False))
    for f in report["failures"]:
        typer.echo(f"failed: {f}", err=True)
    typer.echo(f"re-ranker written to {out}; put it into the index with: assoc index reranker --index {index} --model {out}")
    if report["failures"]:
        raise typer.Exit(EXIT_FAILURE)
