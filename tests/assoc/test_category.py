"""The category model: layers, hierarchy, metrics, audio features, and training through lookup and eval."""

import json

import numpy as np
import pytest
import torch

from assoc.catalog import clip_video_path, load_catalog, load_queries
from assoc.category.features import COLOUR_DIM, N_MELS, ClipFeatures, audio_rows, frame_colour, log_mel
from assoc.category.layers import ContextGating, MixtureOfExperts, NeXtVLAD
from assoc.category.metrics import category_metrics, gap_at_k, hierarchical_prf
from assoc.category.model import CategoryModel, CategoryOutput, CategorySettings, Hierarchy, load_category_model
from assoc.category.pipeline import train_category_models
from assoc.category.train import TrainSettings
from assoc.encoders import load_encoder
from assoc.errors import InputError, ModelError
from assoc.index_build import BuildSettings, build_index
from assoc.index_reader import open_index
from assoc.lookup import Lookup, LookupSettings
from assoc.media import AudioTrack
from eval.category import evaluate_category
from eval.runner import evaluate

LEAVES = [("A", "a1", "x"), ("A", "a1", "y"), ("A", "a2", "z"), ("B", "b1", "w")]


def test_nextvlad_ignores_padding_and_keeps_shapes():
    torch.manual_seed(0)
    vlad = NeXtVLAD(feature_dim=16, clusters=4, groups=4, expansion=2, out_dim=8).eval()
    x = torch.randn(3, 5, 16)
    mask = torch.ones(3, 5)
    padded = torch.cat([x, torch.randn(3, 4, 16)], dim=1)  # junk rows, masked out
    pmask = torch.cat([mask, torch.zeros(3, 4)], dim=1)
    a, b = vlad(x, mask), vlad(padded, pmask)
    assert a.shape == (3, 8) and torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(vlad(x[:, :2], mask[:, :2]), a)  # fewer real rows: another pooling
    with pytest.raises(ValueError, match="groups"):
        NeXtVLAD(feature_dim=10, groups=3)
    gate = ContextGating(8).eval()
    y = gate(a)
    assert y.shape == a.shape and torch.all(y.abs() <= a.abs() + 1e-6)  # a gate only scales down
    assert MixtureOfExperts(8, 5, experts=3)(a).shape == (3, 5)


def test_hierarchy_marginals_never_let_a_child_exceed_its_parent():
    h = Hierarchy(LEAVES)
    rng = np.random.default_rng(0)
    leaf = rng.dirichlet(np.ones(4), size=10)
    l1, l2, l3 = h.marginals(leaf)
    assert np.allclose(l1.sum(1), 1) and np.allclose(l2.sum(1), 1)
    for i, p in enumerate(LEAVES):
        a, b, c = h.labels(p)
        assert np.all(l3[:, c] <= l2[:, b] + 1e-9) and np.all(l2[:, b] <= l1[:, a] + 1e-9)
    path = h.path_prediction([np.array([0.6, 0.4]), np.array([0.2, 0.4, 0.4]), np.array([0.1, 0.1, 0.4, 0.4])])
    assert [n for n, _ in path] == ["A", "a2", "z"]  # top-down: a2 (0.4) under A, its only leaf z
    logp = torch.log(torch.tensor(leaf, dtype=torch.float32))
    t1, t2, _ = h.torch_marginals(logp)
    assert torch.allclose(t1.exp(), torch.tensor(l1, dtype=torch.float32), atol=1e-5)
    assert torch.allclose(t2.exp(), torch.tensor(l2, dtype=torch.float32), atol=1e-5)


def test_matches_move_category_mass_by_their_probability():
    h = Hierarchy(LEAVES)
    model = CategoryOutput(h, [m[0] for m in h.marginals(np.array([[0.7, 0.1, 0.1, 0.1]], np.float32))])
    assert model.with_matches([]).levels[2] == pytest.approx(model.levels[2])
    sure = model.with_matches([(LEAVES[3], 1.0)])
    assert sure.levels[2] == pytest.approx([0, 0, 0, 1]) and [n for n, _ in sure.prediction().levels] == list(LEAVES[3])
    half = model.with_matches([(LEAVES[3], 0.5)])  # 0.5 x model + 0.5 on leaf 3
    assert half.levels[2] == pytest.approx([0.35, 0.05, 0.05, 0.55])
    over = model.with_matches([(LEAVES[1], 0.9), (LEAVES[2], 0.9)])  # scaled to sum 1: the model keeps nothing
    assert over.levels[2] == pytest.approx([0, 0.5, 0.5, 0])
    for out in (half, over):
        assert out.levels[0].sum() == pytest.approx(1) and out.levels[1].sum() == pytest.approx(1)


def test_the_best_match_folds_in_level_by_level():
    h = Hierarchy(LEAVES)
    model = CategoryOutput(h, [m[0] for m in h.marginals(np.array([[0.1, 0.1, 0.2, 0.6]], np.float32))])
    assert model.with_best_match(LEAVES[1], (0, 0, 0)).levels[2] == pytest.approx(model.levels[2])  # the model's
    assert model.with_best_match(LEAVES[1], (1, 1, 1)).levels[2] == pytest.approx([0, 1, 0, 0])  # the path's leaf
    # sure of level 1 only: the model given A (x, y, z in 1 : 1 : 2)
    assert model.with_best_match(LEAVES[1], (1, 0, 0)).levels[2] == pytest.approx([0.25, 0.25, 0.5, 0])
    # sure of a1 only: the model given a1 (x and y alike)
    assert model.with_best_match(LEAVES[1], (1, 1, 0)).levels[2] == pytest.approx([0.5, 0.5, 0, 0])
    # half sure of level 1: P(A) = 0.5 + 0.5 x 0.4; the leaf fold of the same q would leave B (w) on top
    out = model.with_best_match(LEAVES[1], (0.5, 0.5, 0.5))
    expected = 0.5 * np.array([0.1, 0.1, 0.2, 0.6]) + 0.25 * np.array([0.25, 0.25, 0.5, 0]) \
        + 0.125 * np.array([0.5, 0.5, 0, 0]) + 0.125 * np.array([0, 1, 0, 0])
    assert out.levels[2] == pytest.approx(expected) and out.levels[0] == pytest.approx([0.7, 0.3])
    assert [n for n, _ in out.prediction().levels][0] == "A"
    assert [n for n, _ in model.with_matches([(LEAVES[1], 0.125)]).prediction().levels][0] == "B"
    # the model gives the path's subtree nothing: uniform over it; shares outside [0, 1] are clipped
    none_b = CategoryOutput(h, [m[0] for m in h.marginals(np.array([[0.4, 0.3, 0.3, 0.0]], np.float32))])
    assert none_b.with_best_match(LEAVES[3], (1, 0, 0)).levels[2] == pytest.approx([0, 0, 0, 1])
    assert model.with_best_match(LEAVES[1], (2, -1, 0)).levels[2] == pytest.approx([0.25, 0.25, 0.5, 0])
    assert model.with_best_match(("C", "c", "v"), (1, 1, 1)) is model  # not in the taxonomy: nothing moves
    rng = np.random.default_rng(0)
    for _ in range(20):  # a distribution whose children never exceed their parents
        m = CategoryOutput(h, [x[0] for x in h.marginals(rng.dirichlet(np.ones(4))[None, :].astype(np.float32))])
        o = m.with_best_match(LEAVES[int(rng.integers(4))], rng.random(3))
        assert o.levels[2].sum() == pytest.approx(1, abs=1e-5) and (o.levels[2] >= 0).all()
        for p in LEAVES:
            a, b, c = h.labels(p)
            assert o.levels[2][c] <= o.levels[1][b] + 1e-6 and o.levels[1][b] <= o.levels[0][a] + 1e-6


def test_gap_and_hierarchical_prf_by_hand():
    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.7, 0.0]])
    truth = np.array([[1, 0, 0], [0, 1, 0]])
    # pooled top-2: 0.9 (hit), 0.8 (miss), 0.7 (hit), 0.1 (miss): AP = (1/1 + 2/3) / 2
    assert gap_at_k(scores, truth, k=2) == pytest.approx((1 + 2 / 3) / 2)
    assert gap_at_k(scores, truth, k=1) == pytest.approx(1 / 2)  # the second true label is never retrieved
    hp, hr, hf = hierarchical_prf([["A", "a1", "x"], ["A"]], [("A", "a1", "y"), ("A", "a2", "z")])
    # |P & T| = 2 + 1; |P| = 3 + 1; |T| = 3 + 3
    assert (hp, hr) == (pytest.approx(3 / 4), pytest.approx(3 / 6)) and hf == pytest.approx(2 * 0.75 * 0.5 / 1.25)


def test_log_mel_of_a_tone_peaks_in_its_band_and_silence_is_absent():
    sr = 16000
    t = np.arange(sr * 2) / sr
    low, high = (log_mel(np.sin(2 * np.pi * f * t).astype(np.float32), sr) for f in (300, 3000))
    assert low.shape == (4, N_MELS)  # 2 s at one row per half second
    assert np.argmax(low.mean(0)) < np.argmax(high.mean(0))
    assert audio_rows(AudioTrack("x", np.zeros(0, np.float32), sr, "no audio")).shape == (0, N_MELS)
    assert audio_rows(AudioTrack("x", np.zeros(sr, np.float32), sr, "silent")).shape == (0, N_MELS)


def test_metrics_on_model_outputs_and_missing_modalities():
    torch.manual_seed(0)
    model = CategoryModel(CategorySettings(hidden=8, clusters=2, groups=2),
                          {"frames": 4 + COLOUR_DIM, "audio": N_MELS, "text": 6}, LEAVES)
    feats = [ClipFeatures(np.ones((3, 4), np.float32), np.zeros((0, N_MELS), np.float32), np.zeros((0, 6), np.float32),
                          np.ones((3, COLOUR_DIM), np.float32)),
             ClipFeatures(np.zeros((0, 4), np.float32), np.zeros((0, N_MELS), np.float32), np.ones((2, 6), np.float32))]
    outs = model.predict(feats)  # one clip without audio or text, one with text only: both get a prediction
    for o in outs:
        levels = [p for _, p in o.prediction().levels]
        assert len(levels) == 3 and levels[0] >= levels[1] >= levels[2] > 0
    m = category_metrics(outs, [LEAVES[0], LEAVES[3]])
    assert m["n"] == 2 and all(0 <= x <= 1 for x in m["hit@1"]) and 0 <= m["gap@20"] <= 1


def test_frame_colour_sees_palette_lighting_and_busyness_at_any_frame_size():
    red = np.zeros((144, 256, 3), np.uint8)
    red[..., 0] = 220
    dark = np.full((144, 256, 3), 20, np.uint8)
    stripes = np.zeros((144, 256, 3), np.uint8)
    stripes[:, (np.arange(256) // 4) % 2 == 0] = 255  # 4 columns white, 4 black: 1 and 1 once shrunk to 64 wide
    d = frame_colour(np.stack([red, dark, stripes]))
    assert d.shape == (3, COLOUR_DIM) and d.dtype == np.float32 and np.all(d >= 0)
    assert np.all(np.delete(d, [108 + 4, 108 + 5], axis=1) <= 1)  # shares and statistics of [0, 1] channels
    assert np.allclose((d[:, :108] ** 2).sum(1), 1.0, atol=1e-5)  # square-rooted shares of one histogram
    sat_share, dark_share, grad_x = d[:, 108 + 6], d[:, 108 + 7], d[:, 108 + 4]
    assert sat_share[0] == 1.0 and dark_share[0] == 0.0  # a saturated, bright frame
    assert dark_share[1] == 1.0 and sat_share[1] == 0.0  # a dark grey one
    assert grad_x[2] == pytest.approx(255 / 64) and grad_x[0] == 0.0 and d[2, 108 + 5] == 0.0  # vertical stripes: busy across, not down
    assert not np.allclose(d[0, :108], d[1, :108])
    portrait = np.ascontiguousarray(np.repeat(np.repeat(red[:72, :72], 2, 0), 2, 1)[:, :81])  # same colour, other shape
    assert np.allclose(frame_colour(portrait[None])[0], d[0], atol=1e-6)
    assert frame_colour(np.zeros((0, 144, 256, 3), np.uint8)).shape == (0, COLOUR_DIM)
    with pytest.raises(ValueError, match="3 frame vectors but 2"):
        ClipFeatures(np.ones((3, 4), np.float32), np.zeros((0, N_MELS), np.float32), np.zeros((0, 6), np.float32),
                     np.ones((2, COLOUR_DIM), np.float32)).frame_rows(True)


def test_a_model_saved_before_frame_colour_loads_and_reads_vectors_only(tmp_path):
    torch.manual_seed(0)
    old = CategoryModel(CategorySettings(hidden=8, clusters=2, groups=2, frame_colour=False),
                        {"frames": 4, "audio": N_MELS, "text": 6}, LEAVES)
    old.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["settings"]["frame_colour"]  # as written before the setting existed
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    loaded = load_category_model(tmp_path / "old")
    assert loaded.settings.frame_colour is False
    feats = [ClipFeatures(np.ones((3, 4), np.float32), np.zeros((0, N_MELS), np.float32), np.zeros((0, 6), np.float32))]
    with_colour = [ClipFeatures(feats[0].frames, feats[0].audio, feats[0].text, np.ones((3, COLOUR_DIM), np.float32))]
    a, b, c = (m.leaf_probabilities(f) for m, f in ((old, feats), (loaded, feats), (loaded, with_colour)))
    assert np.allclose(a, b) and np.allclose(b, c)  # the colour statistics, if any, are not read


@pytest.fixture(scope="module")
def category_dir(tiny_universe, tiny_index, taxonomy, tmp_path_factory):
    out = tmp_path_factory.mktemp("category") / "model"
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    report = train_category_models(catalog, taxonomy, tiny_index / "encoder", out,
                                   train_queries=tiny_universe / "clips" / "train.jsonl",
                                   val_queries=tiny_universe / "clips" / "val.jsonl",
                                   settings=CategorySettings(hidden=32, clusters=4, groups=4),
                                   train_settings=TrainSettings(epochs=2, batch_size=16))
    assert report.segments == 4 * 8 and report.train_clips == 4 and report.val_clips == 4
    assert set(report.models) == {"model", "frames", "frames+audio", "meanpool_lr"}
    return out


def test_saved_model_loads_without_flags_and_refuses_damage(category_dir, tmp_path):
    model = load_category_model(category_dir)
    assert model.settings.pooling == "nextvlad" and len(model.hierarchy.leaves) == 112
    assert load_category_model(category_dir / "ablations" / "meanpool_lr").settings.pooling == "mean"
    assert json.loads((category_dir / "config.json").read_text())["checksum"] == model.checksum
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(category_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="model.safetensors"):
        load_category_model(broken)


def test_index_with_category_fills_lookups_and_eval(category_dir, tiny_universe, tiny_index, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    encoder = load_encoder(tiny_index / "encoder")
    settings = BuildSettings(keyframe_fps=2.0, short_side=72, semantic=False, category_model=str(category_dir),
                             histogram_baseline=False)
    build_index(catalog, tmp_path / "idx", encoder, settings)
    index = open_index(tmp_path / "idx")
    assert "category" in index.signals and index.manifest["category"]["ablations"] == ["frames", "frames+audio",
                                                                                       "meanpool_lr"]
    clips, _ = load_queries(tiny_universe / "clips" / "test.jsonl")
    lookup = Lookup(index, LookupSettings(short_side=72))
    results, failures = lookup.lookup_clips(tiny_universe / "clips" / "test.jsonl", clips)
    assert not failures
    for r in results:
        names = [n for n, _ in r.category.levels]
        assert len(names) == 3 and tuple(names) in set(taxonomy.leaf_paths())
        assert r.timings_ms["category"] > 0
        for c in r.candidates:
            assert c.evidence.category is not None and len(c.evidence.category.prior) == 3
    # the visual-only ablation's category: the same clip read without its title and description
    assert not lookup.text_free_category  # a lookup computes it only for a re-ranker that reads no text
    lookup.text_free_category = True
    titled = next(c for c in clips if c.title.strip())
    sampled, audio = lookup.decode(clip_video_path(tiny_universe / "clips" / "test.jsonl", titled), {})
    sig = lookup.clip_signals(titled.clip_id, sampled, titled.title, titled.description, audio=audio)
    bare = lookup.clip_signals(titled.clip_id, sampled, "", "", audio=audio)
    assert list(sig.category_without_text.levels[2]) == pytest.approx(list(bare.category.levels[2]))
    assert list(sig.category.levels[2]) != pytest.approx(list(bare.category.levels[2]))  # the title moved it
    assert bare.category_without_text is bare.category  # no text: the same output
    only = Lookup(index, LookupSettings(short_side=72), signals=["category"]).lookup_clips(
        tiny_universe / "clips" / "test.jsonl", clips[:1])[0][0]
    assert only.candidates == [] and len(only.category.levels) == 3  # cold start: a category, no program
    report = evaluate(tmp_path / "idx", tiny_universe / "clips" / "test.jsonl", tmp_path / "rep",
                      LookupSettings(short_side=72, top_k=10))
    cat = report["category"]
    assert cat["clips"] == len(clips) and cat["open_set_clips"] > 0
    assert set(cat["models"]) == {"model", "frames", "frames+audio", "meanpool_lr"}
    assert "## Category" in (tmp_path / "rep" / "report.md").read_text()
    # the same run again into the same directory reads every clip's records back: the same category figures
    again = evaluate(tmp_path / "idx", tiny_universe / "clips" / "test.jsonl", tmp_path / "rep",
                     LookupSettings(short_side=72, top_k=10))
    assert again["per_clip"]["reused"] == len(clips) and again["per_clip"]["computed"] == 0
    assert json.dumps(again["category"], sort_keys=True) == json.dumps(cat, sort_keys=True)
    alone = evaluate_category(category_dir, tiny_index / "encoder", tiny_universe / "clips" / "test.jsonl",
                              tmp_path / "catrep", settings=LookupSettings(short_side=72))
    assert set(alone["category"]["models"]) == set(cat["models"])
    for name, m in cat["models"].items():  # the model alone reads each clip exactly as the lookups did
        assert alone["category"]["models"][name]["hit@1"] == pytest.approx(m["hit@1"], abs=1e-9)
        assert alone["category"]["models"][name]["gap@20"] == pytest.approx(m["gap@20"], abs=1e-6)
    split = alone["category"]["by_split"]
    assert split["open_set"]["model"]["n"] == cat["open_set_clips"]
    assert split["in_catalog"]["model"]["n"] + split["open_set"]["model"]["n"] == cat["clips"]
    assert "### open-set clips" in (tmp_path / "catrep" / "report.md").read_text()
    rows = [json.loads(line) for line in (tmp_path / "catrep" / "predictions.jsonl").read_text().splitlines()]
    assert [r["clip_id"] for r in rows] == [c.clip_id for c in clips if c.category]
    hits = np.mean([[p[0] == t for p, t in zip(r["model"], r["category"])] for r in rows], axis=0)
    assert list(hits) == pytest.approx(cat["models"]["model"]["hit@1"], abs=1e-9)
    assert all(abs(sum(r["leaf_probabilities"]) - 1) < 1e-3 and len(r["leaf_probabilities"]) == 112 for r in rows)
    other = load_encoder(tiny_index / "baselines" / "color_histogram" / "encoder")
    with pytest.raises(InputError, match="trained on frames of encoder"):
        build_index(catalog, tmp_path / "idx2", other, settings)
    with pytest.raises(InputError, match="trained on frames of encoder .* not of encoder .*give the encoder directory"):
        evaluate_category(category_dir, tiny_index / "baselines" / "color_histogram" / "encoder",
                          tiny_universe / "clips" / "test.jsonl", tmp_path / "catrep2")


def test_cli_puts_a_category_model_into_an_existing_index(category_dir, tiny_index, tiny_universe, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from cli.main import app

    shutil.copytree(tiny_index, tmp_path / "idx")
    vectors_before = (tmp_path / "idx" / "visual" / "keyframes.npz").read_bytes()
    result = CliRunner().invoke(app, ["index", "category", "--index", str(tmp_path / "idx"), "--model", str(category_dir)])
    assert result.exit_code == 0, result.output
    index = open_index(tmp_path / "idx")  # verifies every file against the new manifest
    assert "category" in index.signals and index.category_model().checksum == load_category_model(category_dir).checksum
    assert (tmp_path / "idx" / "visual" / "keyframes.npz").read_bytes() == vectors_before
    clip = sorted((tiny_universe / "clips" / "test").glob("*.mp4"))[0]
    shown = CliRunner().invoke(app, ["lookup", "--index", str(tmp_path / "idx"), str(clip)])
    assert shown.exit_code == 0 and "category: " in shown.output and shown.output.count(" > ") == 2
    bad = CliRunner().invoke(app, ["index", "category", "--index", str(tmp_path / "idx"), "--model", str(tmp_path)])
    assert bad.exit_code == 2 and "not a category model directory" in bad.output
    scored = CliRunner().invoke(app, ["eval", "--category", str(category_dir), "--encoder", str(tiny_index / "encoder"),
                                      "--queries", str(tiny_universe / "clips" / "val.jsonl"), "--out",
                                      str(tmp_path / "rep"), "--no-baselines"])
    assert scored.exit_code == 0, scored.output
    assert "### in-catalog clips" in scored.output and "meanpool_lr" not in scored.output
    assert set(json.loads((tmp_path / "rep" / "report.json").read_text())["category"]["models"]) == {"model"}
    half = CliRunner().invoke(app, ["eval", "--category", str(category_dir), "--queries",
                                    str(tiny_universe / "clips" / "val.jsonl"), "--out", str(tmp_path / "rep2")])
    assert half.exit_code == 2 and "--category and --encoder go together" in half.output


def test_the_lookups_category_folds_in_the_best_candidate_by_the_category_calibration(category_dir, tiny_index,
                                                                                       tiny_universe, tmp_path):
    """A lookup, and the eval's fused results, give the model's category with the best candidate's category folded
    in by the re-ranker's category calibrator (P(same category | the candidate's probability))."""
    import shutil

    from assoc.index_update import set_category_model, set_reranker
    from assoc.rerank.calibration import CenteredIsotonic
    from assoc.rerank.model import RerankSettings, load_reranker
    from assoc.rerank.train import train_reranker

    shutil.copytree(tiny_index, tmp_path / "idx")
    set_category_model(tmp_path / "idx", category_dir)
    queries = tiny_universe / "clips" / "test.jsonl"
    settings = RerankSettings(folds=2, depth=10, aux_visual=(), verify=False)
    train_reranker(tmp_path / "idx", queries, tmp_path / "rr", settings)
    model = load_reranker(tmp_path / "rr")
    assert model.category_calibrator is None  # 10 clips: fewer than it needs (MIN_CATEGORY_CLIPS)
    model.category_calibrator = CenteredIsotonic().fit([0.0, 0.2, 0.4, 1.0], [0, 1, 1, 1])  # one by hand
    model._checksum = None
    model.save(tmp_path / "rr2")
    set_reranker(tmp_path / "idx", tmp_path / "rr2")
    lookup = Lookup(open_index(tmp_path / "idx"), LookupSettings(short_side=72))
    cal, programs = lookup.reranker.category_calibrator, lookup.index.programs
    clips, _ = load_queries(queries)
    looked, moved = {}, 0
    for clip in clips[:4]:
        signals = lookup.video_signals(clip_video_path(queries, clip), clip.clip_id, clip.title, clip.description)
        ranked = lookup.reranker.score(signals, programs)
        best, p = ranked[0]
        q = float(cal.predict([p])[0])
        expected = signals.category.with_matches([(tuple(programs[best].category), q)]).prediction()
        result = lookup.result(signals)
        assert result.category == expected
        old = signals.category.with_matches([(tuple(programs[pid].category), s) for pid, s in ranked]).prediction()
        moved += old != expected
        looked[clip.clip_id] = result.model_dump(mode="json")["category"]
    assert moved  # not the fold of before (every candidate by its match probability)
    evaluate(tmp_path / "idx", queries, tmp_path / "rep", LookupSettings(short_side=72), baselines=False)
    saved = {r["clip_id"]: r["category"] for r in map(json.loads, (tmp_path / "rep" / "results_fused.jsonl").open())}
    assert all(saved[cid] == cat for cid, cat in looked.items())
    report = json.loads((tmp_path / "rep" / "report.json").read_text())["category"]["models"]
    assert "model+matches (level fold)" not in report  # nothing to compare with

    # level calibrators (by hand: level 1 trusted even for an unsure candidate): the lookup still folds by the leaf
    # calibrator, and the eval reports the level-by-level fold beside it
    model.level_calibrators = [CenteredIsotonic().fit([0.0, 0.1, 1.0], [0, 1, 1]), cal, cal]
    model._checksum = None
    model.save(tmp_path / "rr3")
    set_reranker(tmp_path / "idx", tmp_path / "rr3")
    lookup = Lookup(open_index(tmp_path / "idx"), LookupSettings(short_side=72))
    looked = {}
    for clip in clips[:4]:
        signals = lookup.video_signals(clip_video_path(queries, clip), clip.clip_id, clip.title, clip.description)
        ranked = lookup.reranker.score(signals, programs)
        best, p = ranked[0]
        shares = [float(c.predict([p])[0]) for c in model.level_calibrators]
        result = lookup.result(signals)
        q = float(cal.predict([p])[0])
        assert result.category == signals.category.with_matches([(tuple(programs[best].category), q)]).prediction()
        by_level = lookup.category_given_matches(signals.category, ranked, lookup.reranker, by_level=True)
        assert by_level.levels[2] == pytest.approx(
            signals.category.with_best_match(programs[best].category, shares).levels[2])
        looked[clip.clip_id] = result.model_dump(mode="json")["category"]
    evaluate(tmp_path / "idx", queries, tmp_path / "rep3", LookupSettings(short_side=72), baselines=False)
    saved = {r["clip_id"]: r["category"] for r in map(json.loads, (tmp_path / "rep3" / "results_fused.jsonl").open())}
    assert all(saved[cid] == cat for cid, cat in looked.items())
    report = json.loads((tmp_path / "rep3" / "report.json").read_text())["category"]["models"]
    assert {"model", "model+matches", "model+matches (level fold)"} <= set(report)
    assert report["model+matches (level fold)"]["n"] == report["model+matches"]["n"] == len(clips)
