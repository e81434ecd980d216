"""`assoc demo` end to end on the tiny universe: every stage runs and the table has every run."""

import json
import shutil

from assoc.catalog import load_queries
from assoc.index_reader import open_index
from assoc.lookup import Lookup
from eval.demo import run_demo


def test_demo_runs_every_stage(tiny_universe, tmp_path):
    shutil.copytree(tiny_universe, tmp_path / "universe")  # same preset and seed: the demo reuses it
    messages = []
    report = run_demo(tmp_path, preset="tiny", seed=0, arch="test_efficientnet", image_size=64, encoder_batch=16,
                      category_epochs=2,
                      log=messages.append, progress=lambda stage: (lambda done, total, *_: None))
    assert [m[:5] for m in messages] == [f"[{i}/6]" for i in range(1, 7)] and "reusing" in messages[0]
    assert {"visual", "color_histogram", "luma_thumbnail", "relative_histogram", "untrained_encoder", "text", "fused",
            "fused_rrf",
            "fused_no_aux_visual"} <= set(report["runs"])
    assert report["category"]["models"]["model"]["n"] == report["clips"]
    assert set(report["demo_seconds"]) == {"synth", "encoder", "category", "index", "reranker", "eval"}
    assert (tmp_path / "report" / "report.md").is_file() and (tmp_path / "index" / "reranker" / "config.json").is_file()
    # the eval's fused results are what a lookup returns, category included (the calibrated matches folded in)
    queries = tmp_path / "universe" / "clips" / "test.jsonl"
    clips, _ = load_queries(queries)
    looked, failures = Lookup(open_index(tmp_path / "index")).lookup_clips(queries, clips[:4])
    saved = {r["clip_id"]: r for r in map(json.loads, (tmp_path / "report" / "results_fused.jsonl").open())}
    assert not failures and len(looked) == 4
    for r in looked:
        assert r.model_dump(mode="json")["category"] == saved[r.clip_id]["category"]
        assert [c.program_id for c in r.candidates] == [c["program_id"] for c in saved[r.clip_id]["candidates"]]
