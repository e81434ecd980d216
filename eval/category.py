"""`assoc eval --category MODEL_DIR --encoder ENCODER_DIR`: score a category model (and the ablations saved with
it) over labelled clips without an index or lookups.

Each clip is decoded as a lookup decodes it (`LookupSettings`: frames per second, at most 16 frames, short side
144), its frames embedded by the encoder the model was trained on, its audio and text read as the lookup reads
them; so the figures are the lookup's own category figures, without the cost of searching for programs. Metrics
are reported over all labelled clips and, separately, over the in-catalog and the open-set (cold start) ones.
predictions.jsonl holds each clip's predicted path per model and the model's leaf probabilities (in the order of
the model's `leaves` in its config.json).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from assoc.catalog import clip_video_path, load_queries
from assoc.category.data import clip_features
from assoc.category.features import TextTokens
from assoc.category.metrics import category_metrics
from assoc.category.model import load_category_model
from assoc.category.pipeline import load_category_ablations
from assoc.encoders import load_encoder
from assoc.errors import MediaError
from assoc.jsonl import atomic_write_text, write_jsonl
from assoc.lookup import LookupSettings, decode_clip
from assoc.media import extract_audio
from eval.report import category_section

SPLITS = ("in_catalog", "open_set")


def evaluate_category(model_dir: str | Path, encoder_dir: str | Path, queries_path: str | Path, out_dir: str | Path,
                      baselines: bool = True, settings: LookupSettings | None = None,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """Score the model and (with `baselines`) its ablations; write report.json and report.md to `out_dir`."""
    from assoc.text.semantic import SemanticModel

    settings = settings or LookupSettings()
    model = load_category_model(model_dir)
    encoder = load_encoder(encoder_dir)
    model.require_encoder(model_dir, encoder.checksum, f"the one in {encoder_dir}; give the encoder directory it was trained with")
    models = {"model": model, **(load_category_ablations(model_dir) if baselines else {})}
    tokens = TextTokens(SemanticModel((model.info.get("text_model") or {}).get("model")))
    clips, rejected = load_queries(queries_path)
    failures = [str(e) for e in rejected]
    labelled = [c for c in clips if c.category]
    outputs: dict[str, list] = {name: [] for name in models}
    truth, split, ms, predictions = [], [], [], []
    t0 = time.time()
    for n, clip in enumerate(labelled, 1):
        try:
            path = clip_video_path(queries_path, clip)
            sampled = decode_clip(path, settings)
            t1 = time.perf_counter()
            audio = extract_audio(path)
            feats = clip_features(sampled.frames, audio, clip.title, clip.description, tokens, encoder)
            out = models["model"].predict([feats])[0]
            ms.append((time.perf_counter() - t1) * 1000)
        except MediaError as e:
            failures.append(f"{clip.clip_id}: {e}")
            continue
        outputs["model"].append(out)
        for name, m in models.items():
            if name != "model":
                outputs[name].append(m.predict([feats])[0])
        truth.append(tuple(clip.category))
        split.append(SPLITS[clip.program_id is None])
        predictions.append({"clip_id": clip.clip_id, "category": list(clip.category), "split": split[-1],
                            **{name: [list(level) for level in outs[-1].prediction().levels]
                               for name, outs in outputs.items()},
                            "leaf_probabilities": [round(float(x), 5) for x in out.levels[2]]})
        if progress:
            progress(n, len(labelled))
    category = {
        "clips": len(truth), "open_set_clips": split.count("open_set"),
        "inference_ms_per_clip": {"mean": round(float(np.mean(ms)), 2), "p50": round(float(np.percentile(ms, 50)), 2)}
        if ms else {},
        "models": {name: category_metrics(outs, truth) for name, outs in outputs.items()},
        "by_split": {s: {name: category_metrics([o for o, k in zip(outs, split) if k == s],
                                                [t for t, k in zip(truth, split) if k == s])
                         for name, outs in outputs.items()} for s in SPLITS},
    }
    report = {"model": str(model_dir), "model_checksum": model.checksum, "encoder": str(encoder_dir),
              "queries": str(queries_path), "clips": len(clips), "labelled_clips": len(labelled), "category": category,
              "failures": failures, "wall_seconds": round(time.time() - t0, 1)}
    write_category_report(out_dir, report)
    write_jsonl(Path(out_dir) / "predictions.jsonl", predictions)
    return report


def category_report_text(report: dict) -> str:
    cat = report["category"]
    parts = [category_section(cat, timed="audio, frame colour and vectors, text tokens, model; not decoding")]
    for s in SPLITS:
        models = cat["by_split"][s]
        n = next(iter(models.values()))["n"] if models else 0
        parts.append(category_section({"models": models}, title=f"### {s.replace('_', '-')} clips ({n})"))
    return "\n\n".join(parts)


def write_category_report(out_dir: str | Path, report: dict) -> None:
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=str))
    head = (f"# assoc category evaluation\n\nmodel: `{report['model']}` ({report['model_checksum']})  \n"
            f"encoder: `{report['encoder']}`  \nqueries: `{report['queries']}`  \n"
            f"labelled clips: {report['labelled_clips']}, failures: {len(report['failures'])}\n\n")
    atomic_write_text(out_dir / "report.md", head + category_report_text(report) + "\n")
