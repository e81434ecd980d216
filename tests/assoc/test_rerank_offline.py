"""Scoring saved re-rankers from the clips' signals (assoc eval --reranker): what a lookup through an index holding the
re-ranker answers, clip for clip, without the lookups."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from assoc.catalog import load_queries
from assoc.errors import InputError
from assoc.index_update import set_reranker
from assoc.jsonl import read_jsonl_strict
from assoc.rerank.model import RerankSettings
from assoc.rerank.offline import no_match_precision_at, score_rerankers
from assoc.rerank.train import train_reranker
from assoc.schema import Result
from cli.main import app
from eval.runner import evaluate

CHEAP = dict(folds=2, depth=5, aux_visual=(), verify=False)


def test_offline_scores_are_the_lookups_and_a_second_reranker_costs_no_lookup(tiny_index, tiny_universe, tmp_path):
    queries = tiny_universe / "clips" / "test.jsonl"  # trained and scored on the same clips: a behaviour test
    cache = tmp_path / "signals"
    train_reranker(tiny_index, queries, tmp_path / "one", RerankSettings(**CHEAP), signals_cache=cache)
    train_reranker(tiny_index, queries, tmp_path / "bag", RerankSettings(**CHEAP, bags=3), signals_cache=cache)
    offline_cache = tmp_path / "offline-signals"
    report = score_rerankers({"one": tmp_path / "one", "bag": tmp_path / "bag"}, tiny_index, queries, offline_cache)
    clips, _ = load_queries(queries)
    assert report["signals_cache"]["computed"] == len(clips) and report["signals_cache"]["reused"] == 0
    again = score_rerankers({"bag": tmp_path / "bag"}, tiny_index, queries, offline_cache)
    assert again["signals_cache"] == {"directory": str(offline_cache), "reused": len(clips), "computed": 0}
    assert again["models"]["bag"]["top"] == report["models"]["bag"]["top"]

    # the index holding re-ranker "one", looked up clip by clip: the same best candidate and confidence
    index = tmp_path / "index"
    shutil.copytree(tiny_index, index)
    set_reranker(index, tmp_path / "one")
    ev = evaluate(index, queries, tmp_path / "eval", baselines=False)
    fused = {r.clip_id: r for r in read_jsonl_strict(tmp_path / "eval" / "results_fused.jsonl", Result)}
    top = report["models"]["one"]["top"]
    assert len(top) == len(clips)
    for row in top:
        result = fused[row["clip_id"]]
        assert row["program_id"] == (result.candidates[0].program_id if result.candidates else None)
        assert row["confidence"] == pytest.approx(result.confidence, abs=1e-4)  # results keep 4 decimals
    one = report["models"]["one"]
    assert one["recall@1"] == pytest.approx(ev["runs"]["fused"]["overall"]["recall@1"])
    assert one["clips"] == len(clips) and one["open_set_clips"] == sum(c.program_id is None for c in clips)

    # the CLI: a table, report.json and a file of best candidates per re-ranker
    result = CliRunner().invoke(app, ["eval", "--index", str(tiny_index), "--queries", str(queries), "--out",
                                      str(tmp_path / "cli"), "--signals-cache", str(offline_cache),
                                      "--reranker", f"single={tmp_path / 'one'}", "--reranker", str(tmp_path / "bag")])
    assert result.exit_code == 0, result.output
    assert "| single |" in result.output and "| bag |" in result.output and f"{len(clips)} clips read" in result.output
    saved = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert set(saved["models"]) == {"single", "bag"} and "top" not in saved["models"]["bag"]
    assert len((tmp_path / "cli" / "top_bag.jsonl").read_text().splitlines()) == len(clips)


def test_rerankers_that_read_other_signals_are_refused_before_anything_is_computed(tiny_index, tiny_universe, tmp_path):
    queries = tiny_universe / "clips" / "test.jsonl"
    train_reranker(tiny_index, queries, tmp_path / "d5", RerankSettings(**CHEAP), signals_cache=tmp_path / "c5")
    train_reranker(tiny_index, queries, tmp_path / "d7", RerankSettings(**dict(CHEAP, depth=7)),
                   signals_cache=tmp_path / "c7")
    with pytest.raises(InputError, match="d7.*candidate depth 7"):
        score_rerankers({"d5": tmp_path / "d5", "d7": tmp_path / "d7"}, tiny_index, queries, tmp_path / "s")
    assert not (tmp_path / "s").exists()  # refused before anything is computed
    result = CliRunner().invoke(app, ["eval", "--index", str(tiny_index), "--queries", str(queries), "--out",
                                      str(tmp_path / "o"), "--reranker", str(tmp_path / "d5")])
    assert result.exit_code == 2 and "--signals-cache" in result.output


def test_no_match_precision_at_recall_by_hand():
    conf = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.95])
    is_open = np.array([True, False, True, False, False, False])
    # recall 0.5: one of the two open-set clips, at or below 0.1: one clip, open -> 1.0
    assert no_match_precision_at(conf, is_open, 0.5) == 1.0
    # recall 1.0: both, at or below 0.3: three clips, two open -> 2/3
    assert no_match_precision_at(conf, is_open, 1.0) == pytest.approx(2 / 3)
    assert no_match_precision_at(conf, np.zeros(6, bool), 0.9) is None
