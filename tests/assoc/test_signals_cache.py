"""`assoc train reranker --signals-cache`: a run resumes, a refit computes nothing, a cache made otherwise is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from assoc.catalog import clip_video_path, load_queries
from assoc.clip_cache import CLIPS_DIR, KEY_FILE
from assoc.errors import InputError
from assoc.rerank.model import RerankSettings, load_reranker
from assoc.rerank.signals_cache import open_signals_cache
from assoc.rerank.train import train_reranker
from cli.main import app

# cheap signals for a behaviour test: no verification against the episodes, no hand-made visual lists
CHEAP = dict(folds=2, depth=5, aux_visual=(), verify=False)


def _queries(universe, path, first: int | None = None, retitle: str | None = None):
    """The tiny universe's test clips (the first few), their videos named absolutely, written to `path`."""
    source = universe / "clips" / "test.jsonl"
    clips, _ = load_queries(source)
    lines = []
    for i, clip in enumerate(clips[:first]):
        update = {"video": str(clip_video_path(source, clip))}
        if retitle is not None and i == 0:
            update["title"] = retitle
        lines.append(clip.model_copy(update=update).model_dump_json())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, len(lines)


def test_a_cache_resumes_a_stopped_run_and_a_refit_computes_nothing(tiny_index, tiny_universe, tmp_path, close):
    cache = tmp_path / "cache"
    half, n_half = _queries(tiny_universe, tmp_path / "half.jsonl", first=5)
    full, n = _queries(tiny_universe, tmp_path / "full.jsonl")
    # a run over the first half (as if stopped there), then the whole: only the rest is computed
    first = train_reranker(tiny_index, half, tmp_path / "m0", RerankSettings(**CHEAP), signals_cache=cache)
    assert first["signals_cache"] == {"directory": str(cache), "reused": 0, "computed": n_half}
    resumed = train_reranker(tiny_index, full, tmp_path / "m1", RerankSettings(**CHEAP), signals_cache=cache)
    assert resumed["signals_cache"]["reused"] == n_half and resumed["signals_cache"]["computed"] == n - n_half
    assert len(list((cache / CLIPS_DIR).glob("*.joblib"))) == n and not list(cache.rglob("*.tmp"))
    # a refit with other model settings reads every clip from the cache, and fits what a run without one fits
    other = dict(CHEAP, kind="logistic", target_precision=0.9, season_marker=True)
    refit = train_reranker(tiny_index, full, tmp_path / "m2", RerankSettings(**other), signals_cache=cache)
    assert refit["signals_cache"] == {"directory": str(cache), "reused": n, "computed": 0}
    fresh = train_reranker(tiny_index, full, tmp_path / "m3", RerankSettings(**other))
    assert "signals_cache" not in fresh
    a, b = load_reranker(tmp_path / "m2"), load_reranker(tmp_path / "m3")
    assert a.features == b.features and "season_marker" in a.features
    assert a.threshold == pytest.approx(b.threshold)
    assert refit["models"]["model"] == fresh["models"]["model"]  # the same out-of-fold figures
    # the signals computed in two worker processes fit the same model too (handed over through a scratch cache)
    parallel = train_reranker(tiny_index, full, tmp_path / "m6", RerankSettings(**other), workers=2)
    assert "signals_cache" not in parallel
    close(parallel["models"], fresh["models"])
    # and workers resume a cache: only the clips it lacks are computed, in the workers
    for path in sorted((cache / CLIPS_DIR).glob("*.joblib"))[:3]:
        path.unlink()
    resumed = train_reranker(tiny_index, full, tmp_path / "m7", RerankSettings(**other), signals_cache=cache, workers=2)
    assert resumed["signals_cache"] == {"directory": str(cache), "reused": n - 3, "computed": 3}
    close(resumed["models"], fresh["models"])
    # a clip whose record changed (a new title) is computed again; the others are reused
    retitled, _ = _queries(tiny_universe, tmp_path / "retitled.jsonl", retitle="【别的标题】第2集")
    again = train_reranker(tiny_index, retitled, tmp_path / "m4", RerankSettings(**CHEAP), signals_cache=cache)
    assert again["signals_cache"]["computed"] == 1 and again["signals_cache"]["reused"] == n - 1
    # a damaged clip file (written outside this code) is computed again, not fitted
    victim = sorted((cache / CLIPS_DIR).glob("*.joblib"))[0]
    victim.write_bytes(b"not a pickle")
    repaired = train_reranker(tiny_index, full, tmp_path / "m5", RerankSettings(**CHEAP), signals_cache=cache)
    assert repaired["signals_cache"]["computed"] >= 1 and repaired["signals_cache"]["reused"] >= n - 2
    assert np.isfinite(load_reranker(tmp_path / "m5").threshold)


def test_a_cache_made_with_other_signal_settings_or_a_foreign_directory_is_refused(tiny_index, tiny_universe, tmp_path):
    cache = tmp_path / "cache"
    one, n = _queries(tiny_universe, tmp_path / "clips.jsonl")
    train_reranker(tiny_index, one, tmp_path / "m0", RerankSettings(**CHEAP), signals_cache=cache)
    key = json.loads((cache / KEY_FILE).read_text())
    assert key["depth"] == 5 and key["verify"] is False and key["aux_visual"] == []
    with pytest.raises(InputError, match=r"signals cache .*cache was made with other settings or another index "
                                         r"\(differs in: depth\)"):
        train_reranker(tiny_index, one, tmp_path / "m1", RerankSettings(**dict(CHEAP, depth=7)), signals_cache=cache)
    with pytest.raises(InputError, match=r"differs in: aux_visual, verify\)"):
        train_reranker(tiny_index, one, tmp_path / "m1", RerankSettings(**dict(CHEAP, verify=True,
                                                                                aux_visual=("color_histogram",))),
                       signals_cache=cache)
    assert not (tmp_path / "m1").exists()  # refused before anything was computed or written
    # a directory that is not a cache is never written into
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty and holds no key.json"):
        open_signals_cache(foreign, key)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_the_cli_names_a_refused_cache_and_reports_a_used_one(tiny_index, tiny_universe, tmp_path):
    one, n = _queries(tiny_universe, tmp_path / "clips.jsonl")
    args = ["train", "reranker", "--index", str(tiny_index), "--queries", str(one), "--no-verify", "--aux-visual", "none",
            "--depth", "5", "--signals-cache", str(tmp_path / "cache")]
    result = CliRunner().invoke(app, args + ["--out", str(tmp_path / "m0")])
    assert result.exit_code == 0, result.output
    assert f'"computed": {n}' in result.output and '"reused": 0' in result.output
    result = CliRunner().invoke(app, args[:-4] + ["--depth", "6", "--signals-cache", str(tmp_path / "cache"),
                                                  "--out", str(tmp_path / "m1")])
    assert result.exit_code == 2 and "differs in: depth" in result.output


def test_a_bagged_refit_averages_classifiers_fitted_on_bootstrap_samples_of_the_clips(tiny_index, tiny_universe,
                                                                                     tmp_path):
    from assoc.rerank.model import BaggedClassifier, fit_classifier

    cache = tmp_path / "cache"
    full, n = _queries(tiny_universe, tmp_path / "full.jsonl")
    single = train_reranker(tiny_index, full, tmp_path / "one", RerankSettings(**CHEAP), signals_cache=cache)
    bagged = train_reranker(tiny_index, full, tmp_path / "bag", RerankSettings(**CHEAP, bags=4), signals_cache=cache)
    assert bagged["signals_cache"] == {"directory": str(cache), "reused": n, "computed": 0}  # a refit: no lookups
    assert "bags" not in json.loads((tmp_path / "one" / "config.json").read_text())["settings"]  # old checksums kept
    assert json.loads((tmp_path / "bag" / "config.json").read_text())["settings"]["bags"] == 4
    model = load_reranker(tmp_path / "bag")
    assert model.settings.bags == 4 and isinstance(model.classifier, BaggedClassifier)
    assert len(model.classifier.members) == 4
    assert load_reranker(tmp_path / "one").settings.bags == 1 and single["models"]["model"]["clips"] == n

    # members see different samples of the clips, and the bag's probability is their mean
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    group = np.repeat(np.arange(100), 4)  # 100 clips, 4 candidates each
    bag = fit_classifier(RerankSettings(kind="logistic", bags=5), X, y, group)
    member_p = np.stack([m.predict_proba(X)[:, 1] for m in bag.members])
    assert len(bag.members) == 5 and np.ptp(member_p, axis=0).max() > 1e-3
    np.testing.assert_allclose(bag.predict_proba(X)[:, 1], member_p.mean(axis=0))
    # a class seen in a few clips only: a draw without it is drawn again, so every member knows both classes
    rare = np.zeros(400, int)
    rare[:4] = 1  # one clip's candidate rows
    assert all(len(m.classes_) == 2 for m in fit_classifier(RerankSettings(kind="logistic", bags=5), X, rare,
                                                              group).members)
    with pytest.raises(InputError, match="bags"):
        RerankSettings(bags=0)
