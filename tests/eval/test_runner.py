"""`assoc eval` keeps each clip's records: a stopped run resumes, worker processes give the same report."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from assoc.catalog import clip_video_path, load_queries
from assoc.clip_cache import CLIPS_DIR
from assoc.lookup import LookupSettings
from cli.main import app
from eval.runner import PER_CLIP_DIR, evaluate


def _queries(universe, path, first: int | None = None):
    """The tiny universe's test clips (the first few), their videos named absolutely, written to `path`."""
    source = universe / "clips" / "test.jsonl"
    clips, _ = load_queries(source)
    lines = [c.model_copy(update={"video": str(clip_video_path(source, c))}).model_dump_json() for c in clips[:first]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(lines)


def _ranked(out, run="fused"):
    """Each clip's candidates and confidence in a run's results file (timings left out: they are the run's own)."""
    rows = [json.loads(line) for line in (out / f"results_{run}.jsonl").read_text().splitlines()]
    return [(r["clip_id"], r["match"], r["confidence"], [(c["program_id"], c["score"]) for c in r["candidates"]])
            for r in rows]


def test_a_stopped_eval_resumes_and_workers_give_the_same_report(tiny_index, tiny_universe, tmp_path, close):
    settings = LookupSettings(short_side=72)
    half, n_half = _queries(tiny_universe, tmp_path / "half.jsonl", first=4)
    full, n = _queries(tiny_universe, tmp_path / "full.jsonl")
    out = tmp_path / "report"
    first = evaluate(tiny_index, half, out, settings)  # as if the run had stopped after these clips
    assert first["per_clip"] == {"directory": str(out / PER_CLIP_DIR), "reused": 0, "computed": n_half, "workers": 1}
    resumed = evaluate(tiny_index, full, out, settings)
    assert (resumed["per_clip"]["reused"], resumed["per_clip"]["computed"]) == (n_half, n - n_half)
    assert len(list((out / PER_CLIP_DIR / CLIPS_DIR).glob("*.joblib"))) == n
    # the same clips in two worker processes, from nothing: the same figures and the same ranked results
    parallel = evaluate(tiny_index, full, tmp_path / "parallel", settings, workers=2)
    assert parallel["per_clip"] == {"directory": str(tmp_path / "parallel" / PER_CLIP_DIR), "reused": 0,
                                    "computed": n, "workers": 2}
    close(parallel["runs"], resumed["runs"])
    assert parallel["failures"] == resumed["failures"] == []
    for run in resumed["runs"]:
        close(_ranked(tmp_path / "parallel", run), _ranked(out, run))
    # other settings into the same report directory: the records are computed again, and the report says why
    other = evaluate(tiny_index, full, out, LookupSettings(short_side=72, top_k=3))
    assert other["per_clip"]["computed"] == n
    assert any("differs in: settings" in note for note in other["notes"])
    assert all(len(r[3]) <= 3 for r in _ranked(out, "visual"))
    # --no-resume computes every clip again, through the CLI too
    result = CliRunner().invoke(app, ["eval", "--index", str(tiny_index), "--queries", str(full), "--out", str(out),
                                      "--no-resume"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "report.json").read_text())["per_clip"]["computed"] == n
