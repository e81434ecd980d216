"""The whole pipeline on the small preset: synth -> index -> eval, returning the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from assoc.catalog import load_catalog
from assoc.encoders import create_encoder
from assoc.index_build import build_index
from assoc.taxonomy import load_taxonomy
from eval.runner import evaluate
from eval.synth.generate import synthesize
from eval.synth.presets import get_preset


def run_demo(out: str | Path, preset: str = "small", seed: int = 0, arch: str = "efficientnet_b0",
             fresh: bool = False, log: Callable[[str], None] = print,
             progress: Callable[[str], Callable] | None = None) -> dict:
    out = Path(out)
    universe, index, report_dir = out / "universe", out / "index", out / "report"
    p = get_preset(preset)
    stats_path = universe / "stats.json"
    previous = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    wanted = json.loads(json.dumps(p.as_dict()))  # as stats.json holds it: tuples become lists
    reuse = not fresh and previous.get("preset") == wanted and previous.get("seed") == seed
    if reuse:
        log(f"[1/3] reusing the {preset} universe in {universe} (same preset and seed)")
    else:
        log(f"[1/3] synthesising the {preset} universe (seed {seed}) into {universe}")
        synthesize(universe, p, seed, progress=progress("synth") if progress else None)
    log(f"[2/3] indexing with an untrained {arch} encoder into {index}")
    catalog = load_catalog(universe / "catalog.jsonl", load_taxonomy())
    build_index(catalog, index, create_encoder(arch), progress=progress("index") if progress else None)
    log(f"[3/3] evaluating on {universe / 'clips' / 'test.jsonl'}")
    return evaluate(index, universe / "clips" / "test.jsonl", report_dir,
                    progress=progress("eval") if progress else None)
