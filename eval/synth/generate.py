"""`assoc synth`: write a program universe (catalog, episode videos, clips, stats) to a directory."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from assoc.errors import AssocError
from assoc.jsonl import atomic_write_text, write_jsonl
from assoc.schema import Clip, Episode, Program
from assoc.taxonomy import Taxonomy, load_taxonomy
from assoc.videoio import write_video
from eval.synth import edits as E
from eval.synth import names
from eval.synth.audio import SAMPLE_RATE, episode_audio, theme
from eval.synth.presets import Preset
from eval.synth.render import episode_script, render_frame
from eval.synth.universe import EpisodePlan, ProgramPlan, build_universe

SPLITS = ("train", "val", "test")


class SynthError(AssocError):
    """Some videos of the universe could not be written."""


@dataclass(frozen=True)
class ClipPlan:
    clip: Clip
    program: ProgramPlan
    episode: EpisodePlan
    out_seconds: float
    speed: float
    fps: float
    seed: int


def _episode_job(program: ProgramPlan, episode: EpisodePlan, path: Path, preset: Preset) -> str:
    script = episode_script(program.spec, episode.seed, episode.duration)
    n = int(episode.duration * preset.fps)
    frames = (render_frame(program.spec, script, i / preset.fps, preset.width, preset.height) for i in range(n))
    audio = episode_audio(program.spec, script, episode.seed)
    write_video(path, frames, preset.fps, audio, SAMPLE_RATE, crf=preset.crf, preset="superfast")
    return str(path)


def _clip_job(plan: ClipPlan, path: Path, preset: Preset) -> str:
    spec, ep = plan.program.spec, plan.episode
    script = episode_script(spec, ep.seed, ep.duration)
    edits = plan.clip.edits
    editor = E.ClipEditor(edits, preset.width, preset.height, plan.seed)
    ow, oh = editor.output_size()
    n = max(1, int(plan.out_seconds * plan.fps))
    start = float(plan.clip.start or 0.0)
    rng = np.random.default_rng(plan.seed)
    card_n = int(rng.uniform(1.0, 2.0) * plan.fps) if "intro_outro" in edits else 0
    color = tuple(int(c) for c in rng.integers(0, 200, 3))

    def frames():
        for _ in range(card_n):
            yield E.card(ow, oh, "WATCH MORE", color)
        for i in range(n):
            src_t = min(ep.duration - 1e-3, start + i * plan.speed / plan.fps)
            yield editor(render_frame(spec, script, src_t, preset.width, preset.height), i / plan.fps)
        for _ in range(card_n):
            yield E.card(ow, oh, "FOLLOW", color)

    if "mute" in edits:
        audio = np.zeros(int(plan.out_seconds * SAMPLE_RATE), np.float32)
    elif "music" in edits:
        audio = 0.4 * theme(spec, plan.out_seconds, seed=plan.seed)
    else:
        full = episode_audio(spec, script, ep.seed)
        src = start * SAMPLE_RATE + np.arange(int(plan.out_seconds * SAMPLE_RATE)) * plan.speed
        audio = np.interp(src, np.arange(len(full)), full).astype(np.float32)
    pad = np.zeros(int(card_n / plan.fps * SAMPLE_RATE), np.float32)  # silence under the cards
    audio = np.concatenate([pad, audio, pad])
    crf = int(rng.integers(38, 45)) if "bitrate" in edits else preset.crf
    write_video(path, frames(), plan.fps, audio, SAMPLE_RATE, crf=crf, preset="superfast")
    return str(path)


def plan_clips(programs: list[ProgramPlan], heldout: set[str], preset: Preset, seed: int) -> dict[str, list[ClipPlan]]:
    """Choose every clip: its program, episode, span, edits and text. Deterministic by seed."""
    rng = np.random.default_rng([seed, 10])
    catalog = [p for p in programs if p.program_id not in heldout]
    held = [p for p in programs if p.program_id in heldout]
    rng.shuffle(held)
    cut1, cut2 = int(len(held) * 0.2), int(len(held) * 0.6)
    pools = {"train": held[:cut1], "val": held[cut1:cut2], "test": held[cut2:]}
    out: dict[str, list[ClipPlan]] = {}
    counter = 0
    lo, hi = preset.clip_seconds
    for split in SPLITS:
        n = preset.clips[split]
        n_open = int(round(n * preset.open_fraction[split])) if pools[split] else 0
        plans = []
        for k in range(n):
            counter += 1
            is_open = k < n_open
            prog = pools[split][int(rng.integers(0, len(pools[split])))] if is_open else catalog[int(rng.integers(0, len(catalog)))]
            ep = prog.episodes[int(rng.integers(0, len(prog.episodes)))]
            edits = E.choose_edits(rng)
            speed = float(round(rng.uniform(0.75, 1.5), 2)) if "speed" in edits else 1.0
            fps = float(rng.choice([6.0, 10.0, 12.0, 15.0])) if "fps" in edits else preset.fps
            out_s = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            span = min(out_s * speed, ep.duration - 0.5)
            out_s = span / speed
            start = float(round(rng.uniform(0, ep.duration - span), 2))
            title, desc, mention = names.clip_text(prog.text_fields(), ep.number, prog.season, rng)
            cid = f"c{counter:06d}"
            clip = Clip(clip_id=cid, video=f"clips/{split}/{cid}.mp4", title=title, description=desc,
                        program_id=None if is_open else prog.program_id,
                        episode_id=None if is_open else ep.episode_id,
                        start=start, end=round(start + span, 2), edits=edits, mention=mention,
                        category=list(prog.category))
            plans.append(ClipPlan(clip, prog, ep, out_s, speed, fps, int(rng.integers(0, 2**31))))
        order = rng.permutation(len(plans))  # open-set clips are not all at the top of the file
        out[split] = [plans[i] for i in order]
    return out


def _program_record(p: ProgramPlan) -> Program:
    return Program(program_id=p.program_id, title=p.title, aliases=list(p.aliases), category=list(p.category),
                   cast=list(p.cast), characters=list(p.characters), year=p.year, description=p.description,
                   episodes=[Episode(episode_id=e.episode_id, number=e.number,
                                     video=f"videos/{p.program_id}/e{e.number:02d}.mp4") for e in p.episodes])


def _dir_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def synthesize(
    out: str | Path,
    preset: Preset,
    seed: int,
    workers: int | None = None,
    taxonomy: Taxonomy | None = None,
    progress: Callable[[int, int], None] | None = None,
    videos: bool = True,
) -> dict:
    """Generate the universe into `out`; returns the stats (also written to stats.json).

    `videos` False: the catalog and clip files only (the same as with videos: every choice is drawn before any video
    is rendered), for text-only work; the files name videos that are not written."""
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    taxonomy = taxonomy or load_taxonomy()
    total = preset.n_catalog + preset.n_heldout
    programs = build_universe(taxonomy, total, seed, preset.episodes, preset.episode_seconds)
    rng = np.random.default_rng([seed, 20])
    heldout = {programs[i].program_id for i in rng.choice(total, preset.n_heldout, replace=False)}
    catalog = [p for p in programs if p.program_id not in heldout]
    clip_plans = plan_clips(programs, heldout, preset, seed)

    jobs = []
    if videos:
        jobs = [(_episode_job, (p, e, out / "videos" / p.program_id / f"e{e.number:02d}.mp4", preset))
                for p in catalog for e in p.episodes]
        jobs += [(_clip_job, (c, out / c.clip.video, preset)) for split in SPLITS for c in clip_plans[split]]
    failures = _run_jobs(jobs, workers, progress)

    write_jsonl(out / "catalog.jsonl", (_program_record(p) for p in catalog))
    failed_clips = {Path(f["path"]).stem for f in failures}
    for split in SPLITS:
        write_jsonl(out / "clips" / f"{split}.jsonl", (c.clip for c in clip_plans[split] if c.clip.clip_id not in failed_clips))
    stats = _stats(preset, seed, programs, catalog, heldout, clip_plans, failures)
    stats["videos"] = videos
    stats["bytes_on_disk"] = _dir_bytes(out)
    stats["wall_seconds"] = round(time.time() - t0, 1)
    atomic_write_text(out / "stats.json", json.dumps(stats, ensure_ascii=False, indent=2))
    if failures:
        raise SynthError(f"{len(failures)} video(s) failed:\n" + "\n".join(f"{f['path']}: {f['error']}" for f in failures))
    return stats


def _run_jobs(jobs, workers, progress) -> list[dict]:
    if not jobs:
        return []
    workers = workers or os.cpu_count() or 1
    failures = []
    done = 0
    if workers == 1:
        for fn, args in jobs:
            try:
                fn(*args)
            except Exception as e:  # a failed video is reported, the rest go on
                failures.append({"path": str(args[2]), "error": f"{type(e).__name__}: {e}"})
            done += 1
            if progress:
                progress(done, len(jobs))
        return failures
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fn, *args): str(args[2]) for fn, args in jobs}
        for fut in as_completed(futures):
            try:
                fut.result()
            except Exception as e:
                failures.append({"path": futures[fut], "error": f"{type(e).__name__}: {e}"})
            done += 1
            if progress:
                progress(done, len(jobs))
    return failures


def _stats(preset, seed, programs, catalog, heldout, clip_plans, failures) -> dict:
    all_clips = [c for s in SPLITS for c in clip_plans[s]]
    return {
        "preset": preset.as_dict(),
        "seed": seed,
        "programs": {"catalog": len(catalog), "heldout": len(heldout),
                     "relations": dict(Counter(p.relation for p in catalog)),
                     "top_level": dict(Counter(p.category[0] for p in catalog)),
                     "leaf_categories_used": len({p.category for p in catalog})},
        "episodes": {"count": sum(len(p.episodes) for p in catalog),
                     "seconds": round(sum(e.duration for p in catalog for e in p.episodes), 1)},
        "clips": {s: {"count": len(clip_plans[s]),
                      "open_set": sum(c.clip.program_id is None for c in clip_plans[s]),
                      "seconds": round(sum(c.out_seconds for c in clip_plans[s]), 1)} for s in SPLITS},
        "edits": dict(Counter(e for c in all_clips for e in c.clip.edits).most_common()),
        "mentions": dict(Counter(c.clip.mention for c in all_clips).most_common()),
        "failures": len(failures),
    }
