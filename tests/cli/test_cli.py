"""The CLI driven through CliRunner: exit codes, exact messages, and help on every command."""

import json
import shutil

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def all_commands(group: typer.Typer, prefix=()):
    for cmd in group.registered_commands:
        yield prefix + (cmd.name,), cmd
    for sub in group.registered_groups:
        yield from all_commands(sub.typer_instance, prefix + (sub.name,))


@pytest.mark.parametrize("path,cmd", list(all_commands(app)), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help(path, cmd):
    assert (cmd.callback.__doc__ or "").strip(), f"assoc {' '.join(path)} has no help text"
    result = run(*path, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_unknown_preset_is_a_usage_error(tmp_path):
    result = run("synth", "--preset", "huge", "--out", tmp_path / "u")
    assert result.exit_code == 2
    assert "error: unknown preset 'huge'; known presets: tiny, small, bench" in result.output


def test_lookup_needs_video_or_queries(tiny_index):
    result = run("lookup", "--index", tiny_index)
    assert result.exit_code == 2 and "error: give a VIDEO (or, with --signals text, a --title), or --queries" in result.output


def test_lookup_missing_index(tmp_path):
    result = run("lookup", "--index", tmp_path, tmp_path / "x.mp4")
    assert result.exit_code == 2 and f"error: {tmp_path}: not an index directory (no manifest.json)" in result.output


def test_lookup_one_clip_json(tiny_index, tiny_universe):
    video = sorted((tiny_universe / "clips" / "test").glob("*.mp4"))[0]
    result = run("lookup", "--index", tiny_index, video, "--json", "--top-k", 3)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["clip_id"] == video.stem and len(data["candidates"]) == 3
    assert set(data) >= {"match", "confidence", "candidates", "category", "degraded", "timings_ms"}


def test_lookup_unreadable_clip_names_it(tiny_index, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"")
    result = run("lookup", "--index", tiny_index, bad)
    assert result.exit_code == 2 and f"error: {bad}: zero-length file" in result.output


def test_bench_lookup_prints_each_stage_against_decode_only(tiny_index, tiny_universe):
    result = run("bench", "lookup", "--index", tiny_index, "--queries", tiny_universe / "clips" / "test.jsonl",
                 "--clips", 2, "--scan-cache-mb", 0)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["clips"] == 2 and data["decode_only_ms"]["mean"] > 0
    assert data["stages"]["total"]["ratio_to_decode_only"] >= data["stages"]["decode"]["ratio_to_decode_only"] > 0
    assert data["scan_cache"] is None  # no cache asked for (and no re-ranker here that verifies)


def test_batch_lookup_and_eval(tiny_index, tiny_universe, tmp_path):
    queries = tiny_universe / "clips" / "test.jsonl"
    out = tmp_path / "results.jsonl"
    result = run("lookup", "--index", tiny_index, "--queries", queries, "--out", out)
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 10
    report = tmp_path / "report"
    result = run("eval", "--index", tiny_index, "--queries", queries, "--out", report)
    assert result.exit_code == 0, result.output
    assert "| visual | 7 |" in result.output and "| color_histogram | 7 |" in result.output
    data = json.loads((report / "report.json").read_text())
    assert set(data["runs"]) == {"visual", "color_histogram", "luma_thumbnail", "relative_histogram", "text", "fused"}
    assert {"by_edit", "by_mention", "by_mention_group", "by_category"} <= set(data["runs"]["visual"])
    text = data["runs"]["text"]  # a group's count is the sum of its mention kinds' counts
    group = text["by_mention_group"].get("person (character, cast)", {"n": 0})["n"]
    assert group == sum(text["by_mention"].get(k, {"n": 0})["n"] for k in ("character", "cast"))
    assert (report / "report.md").read_text().startswith("# assoc evaluation")
    rescored = run("eval", "--results", out, "--queries", queries, "--out", tmp_path / "r2")
    assert rescored.exit_code == 0
    r2 = json.loads((tmp_path / "r2" / "report.json").read_text())["runs"]["results"]["overall"]
    assert r2["n"] == 7  # batch lookup fuses visual and text, like the eval's 'fused' run
    assert r2["recall@1"] == pytest.approx(data["runs"]["fused"]["overall"]["recall@1"])


def test_index_build_reports_bad_lines_and_episodes(tiny_universe, tmp_path):
    universe = tmp_path / "u"
    shutil.copytree(tiny_universe, universe, ignore=shutil.ignore_patterns("clips"))
    lines = (universe / "catalog.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    (universe / first["episodes"][0]["video"]).write_bytes(b"")
    lines = lines[:3] + ["{broken"]
    (universe / "catalog.jsonl").write_text("\n".join(lines) + "\n")
    result = run("index", "build", "--catalog", universe / "catalog.jsonl", "--out", tmp_path / "idx",
                 "--arch", "test_efficientnet", "--dim", 16, "--image-size", 32, "--episode-frames", "scan")
    assert result.exit_code == 1
    assert "catalog.jsonl:4: invalid JSON" in result.output
    assert f"failed: {first['episodes'][0]['episode_id']}" in result.output and "zero-length file" in result.output
    assert "indexed 2 programs, 2 episodes" in result.output
    # the episode that failed is not tried again for the stored frames: one failure, the others' frames stored
    assert result.output.count("failed") == 1 and "stored the episodes' verification frames (scan)" in result.output
    info = run("index", "info", "--index", tmp_path / "idx")
    summary = json.loads(info.output)
    assert info.exit_code == 0 and summary["counts"]["failed_episodes"] == 1
    assert summary["episode_frames"]["episodes"] == 2 and summary["episode_frames"]["mode"] == "scan"


def test_reranker_commands_name_what_is_wrong(tiny_index, tmp_path):
    result = run("lookup", "--index", tiny_index, "--title", "x", "--signals", "text", "--scorer", "best")
    assert result.exit_code == 2 and "error: unknown scorer 'best'; known: auto, rerank, rrf" in result.output
    result = run("lookup", "--index", tiny_index, "--title", "x", "--signals", "text", "--scorer", "rerank")
    assert result.exit_code == 2 and "has no re-ranker" in result.output
    index = tmp_path / "idx"
    shutil.copytree(tiny_index, index)
    result = run("index", "reranker", "--index", index, "--model", tmp_path)
    assert result.exit_code == 2 and f"error: {tmp_path}: not a re-ranker directory" in result.output
    result = run("train", "reranker", "--index", index, "--queries", tmp_path / "none.jsonl", "--out", tmp_path / "m",
                 "--kind", "forest")
    assert result.exit_code == 2 and "error: unknown re-ranker kind 'forest'; known: gbdt, logistic" in result.output
