"""Verification against the episode (assoc.verify) on real clips of the tiny universe, decoded with decord."""

from __future__ import annotations

from dataclasses import asdict, replace

import cv2
import numpy as np
import pytest

from assoc.catalog import clip_video_path, load_catalog, load_queries
from assoc.errors import InputError, MediaError
from assoc.media import sample_frames
from assoc.verify import (
    ADDED,
    DETAIL_WIDTH,
    LEGACY,
    WIDTH,
    EpisodeWindows,
    Verifier,
    VerifySettings,
    _alignments,
    clip_templates,
    read_window,
    verify_segment,
)
from assoc.visual import Segment, VisualCandidate


@pytest.fixture(scope="module")
def universe(tiny_universe, taxonomy):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    videos = {e.episode_id: catalog.video_path(e.video) for p in catalog.programs for e in p.episodes}
    queries = tiny_universe / "clips" / "test.jsonl"
    clips, _ = load_queries(queries)
    # clips whose source time is simply start + clip time: no speed change, no inserted cards
    plain = [c for c in clips if c.program_id and not {"speed", "intro_outro"} & set(c.edits)]
    assert len(plain) >= 4, "the tiny universe should have a few clips without speed edits or cards"
    return videos, queries, plain


def _fit(clip_frames, episode_path, start):
    tpl = clip_templates(clip_frames.frames)
    return verify_segment(tpl, clip_frames.times, "e", lambda a, b: read_window(episode_path, a, b), start, 0.0,
                          1.0, VerifySettings())


def test_a_clip_fits_its_own_episode_at_its_alignment_far_better_than_another_place(universe):
    videos, queries, plain = universe
    own, elsewhere = [], []
    for clip in plain:
        sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
        v = _fit(sampled, videos[clip.episode_id], clip.start)
        assert v is not None and v.frames >= 1
        own.append(v.fit_trimmed)
        other = next(e for e in videos if e != clip.episode_id)  # another program's episode, same times
        w = _fit(sampled, videos[other], clip.start)
        elsewhere.append(w.fit_trimmed if w is not None else -1.0)
    own, elsewhere = np.array(own), np.array(elsewhere)
    # cut from the episode: one transform explains every frame; edits (crops, colour, overlays, and at the tiny
    # universe's 128 x 72 a subtitle covers much of the frame) cost some of it. Elsewhere, small crops still
    # match something at moderate correlation at this size, hence the modest margin asked for here.
    assert np.median(own) > 0.7, own
    assert np.mean(own - elsewhere) > 0.1 and np.mean(own > elsewhere + 0.05) >= 0.75, (own, elsewhere)


def test_verifier_verifies_the_best_visual_candidates_and_reports_a_missing_video(universe, tmp_path):
    videos, queries, plain = universe
    clip = plain[0]
    sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
    seg = Segment(clip.episode_id, clip.start, clip.end, 0.0, float(sampled.times[-1]), 1.0, len(sampled.times))
    right = VisualCandidate(clip.program_id, 0.9, 10, 16, 0.9, clip.episode_id, clip.start, clip.end, segments=[seg])
    gone = VisualCandidate("pX", 0.5, 5, 16, 0.8, "pXe01", 3.0, 9.0, speed=1.0)
    weak = VisualCandidate("pY", 0.1, 1, 16, 0.5, clip.episode_id, 0.0, 5.0, speed=1.0)
    paths = dict(videos, pXe01=tmp_path / "missing.mp4")
    verifier = Verifier(lambda e: paths.get(e), VerifySettings(candidates=2))
    timings: dict = {}
    found, problems = verifier.verify(sampled.frames, sampled.times, [[right, weak], [gone]], timings)
    assert set(found) == {clip.program_id}  # pY is third best: not verified; pX's video is missing
    assert found[clip.program_id].episode_id == clip.episode_id and found[clip.program_id].fit_trimmed > 0.7
    assert len(problems) == 1 and "missing.mp4" in problems[0] and "not found" in problems[0]
    assert timings["verify"] > 0
    # the text signal's best is verified too when a visual list aligned it, however low it ranks there
    again, _ = verifier.verify(sampled.frames, sampled.times, [[right, weak], [gone]], also=["pY", "pZ"])
    assert set(again) == {clip.program_id, "pY"}  # pZ: no visual alignment to check


def test_read_window_names_the_file_it_cannot_decode(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError, match="bad.mp4"):
        read_window(bad, 0.0, 2.0)
    with pytest.raises(MediaError, match="not found"):
        read_window(tmp_path / "none.mp4", 0.0, 2.0)


def test_alignments_add_speed_one_through_the_middle_of_a_segment_at_the_aligners_bound():
    bound = VisualCandidate("p", 0.9, 8, 16, 0.9, "pe01", 10.0, 14.0,
                            segments=[Segment("pe01", 10.0, 14.0, 0.0, 8.0, 0.5, 16)])
    plain = VisualCandidate("p", 0.5, 4, 16, 0.5, "pe01", 40.0, 48.0, speed=1.0)
    same = VisualCandidate("p", 0.4, 4, 16, 0.4, "pe01", 40.3, 48.3, speed=1.0)  # within a second of `plain`
    got = _alignments([bound, plain, same], VerifySettings())
    # the segment as aligned, then speed 1 with the same source time at the segment's middle (clip 4 s -> 12 s)
    assert got[0] == ("pe01", 10.0, 0.0, 0.5, 8.0)
    assert got[1][3] == 1.0 and got[1][1] + (4.0 - got[1][2]) * 1.0 == pytest.approx(12.0)
    assert got[2] == ("pe01", 40.0, 0.0, 1.0, None) and len(got) == 3
    assert _alignments([bound, plain, same], LEGACY) == [got[0], got[2]]  # before: no variant, at most two
    assert len(_alignments([bound, plain], VerifySettings(alignments=1))) == 1


def test_episode_windows_slice_what_they_already_decoded(universe):
    videos, _, plain = universe
    path = videos[plain[0].episode_id]
    windows = EpisodeWindows()
    first = windows(path, 1.0, 3.0)
    inner = windows(path, 1.5, 2.5)  # inside the first window and its margin: sliced, not decoded again
    direct = read_window(path, 1.5, 2.5)
    assert len(windows.read) == 1 and inner[1] == direct[1] and inner[2] == direct[2]
    assert np.array_equal(inner[0], direct[0]) and len(first[0]) > len(inner[0])


def _vertical_fill(frame: np.ndarray) -> np.ndarray:
    """A vertical reframe that fills its 9:16 frame with the source's centre (about a third of its width)."""
    import cv2

    h, w = frame.shape[:2]
    cw = int(round(h * 9 / 16))
    x0 = (w - cw) // 2
    return cv2.resize(frame[:, x0 : x0 + cw], (h, int(round(h * 16 / 9))))


def test_a_portrait_fill_is_fit_as_its_whole_frame_and_small_scales_are_for_portrait_clips_only(universe):
    videos, _, plain = universe
    episode = plain[0].episode_id
    source = sample_frames(videos[episode], fps=2.0, max_frames=12)  # the episode's own first seconds
    portrait = np.stack([_vertical_fill(f) for f in source.frames])

    def verify(frames, settings, ep=episode):
        seg = Segment(ep, 0.0, float(source.times[-1]), 0.0, float(source.times[-1]), 1.0, len(source.times))
        cand = VisualCandidate("p", 0.9, 10, 12, 0.9, ep, 0.0, float(source.times[-1]), segments=[seg])
        return Verifier(lambda e: videos.get(e), settings).verify(frames, source.times, [[cand]])[0].get("p")

    band_only = VerifySettings(scales=(0.4, 0.32), portrait_heights=None)
    got = verify(portrait, band_only)  # its landscape band: the centre third of the source, one transform throughout
    assert got.scale == pytest.approx(0.32) and got.fit_trimmed > 0.8, got
    whole = verify(portrait, VerifySettings())  # its whole frame: a full-height strip of the source's width x 9/32
    h = 2 * WIDTH * 9 // 16 // 2
    assert whole.scale == pytest.approx(round(h * 9 / 16) / WIDTH) and whole.fit_trimmed > 0.9, whole
    finer = verify(portrait, VerifySettings(portrait_width=2 * WIDTH))  # compared at twice the width: the same strip
    assert finer.scale == pytest.approx(round(2 * h * 9 / 16) / (2 * WIDTH)) and finer.fit_trimmed > 0.9, finer
    # against other programs' episodes at the same times, the whole frame finds less by chance than its band
    others = [e for e in videos if not e.startswith(episode[:-3])][:6]
    chance_band = [verify(portrait, band_only, e).fit_trimmed for e in others]
    chance_whole = [verify(portrait, VerifySettings(), e).fit_trimmed for e in others]
    assert np.mean(chance_whole) < np.mean(chance_band) - 0.05, (chance_whole, chance_band)
    # a landscape clip is never compared at the small scales (chance fits of small templates), unless asked to
    assert verify(source.frames, band_only) is None
    assert verify(source.frames, replace(band_only, landscape_min_scale=None)).scale < 0.55
    assert verify(source.frames, VerifySettings()).scale >= 0.55


def test_templates_trim_a_bar_that_carries_a_logo(universe):
    videos, _, plain = universe
    frame = sample_frames(videos[plain[0].episode_id], fps=1.0, max_frames=1).frames[0]
    h, w = frame.shape[:2]
    boxed = np.zeros((h, w + 40, 3), np.uint8)  # pillarboxed, 20 px bars
    boxed[:, 20 : 20 + w] = frame
    boxed[4:16, 2:18] = 255  # a broadcaster's logo in the corner, over the bar
    expected = clip_templates(frame[None])[0]
    by_mean = clip_templates(boxed[None])[0]  # the logo's columns keep their bar: the picture is squeezed
    by_quantile = clip_templates(boxed[None], border_quantile=80)[0]
    assert np.abs(by_quantile.astype(int) - expected).mean() < 2.0
    assert np.abs(by_mean.astype(int) - expected).mean() > 2 * np.abs(by_quantile.astype(int) - expected).mean()


def test_settings_saved_before_a_setting_was_added_reproduce_the_verification_of_then():
    from dataclasses import asdict

    saved = asdict(VerifySettings())
    for added in ADDED:
        saved.pop(added)  # a re-ranker of stop 15 saved everything but these
    then = VerifySettings.from_config(saved)
    assert then.landscape_min_scale is None and then.border_quantile is None and then.portrait_heights is None
    assert then.scales == VerifySettings().scales  # what it saved stays as saved
    assert VerifySettings.from_config(asdict(VerifySettings())) == VerifySettings()
    assert VerifySettings.from_config(None) == LEGACY and LEGACY.border_quantile is None
    assert then.channels == ("luma",) and VerifySettings().channels == ("luma",)  # value is opt-in
    assert then.scan_stops is False and VerifySettings().scan_stops is True  # earlier scans verified every hypothesis
    first_of_27 = {k: v for k, v in asdict(VerifySettings(channels=("luma", "value"))).items() if k != "scan_stops"}
    assert VerifySettings.from_config(first_of_27).channels == ("luma", "value")  # saved channels, not scan_stops
    assert VerifySettings.from_config(first_of_27).scan_stops is True
    saved_json = {**asdict(VerifySettings()), "channels": ["luma", "value"]}  # a list once written as JSON
    assert VerifySettings.from_config(saved_json).channels == ("luma", "value")


@pytest.mark.parametrize("channels", [("luma", "hue"), ()])
def test_an_unknown_or_empty_channel_list_is_refused(channels):
    with pytest.raises(InputError, match="channels"):
        VerifySettings(channels=channels)


def _colour_filter(frames: np.ndarray, hue: int = 30, sat: float = 1.6) -> np.ndarray:
    """A colour filter: the hue rotated by `hue` (of OpenCV's 180) and the saturation scaled by `sat`, per pixel."""
    out = []
    for f in frames:
        hsv = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + hue) % 180).astype(np.uint8)
        hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    return np.stack(out)


def test_value_verifies_a_colour_filtered_clip_that_luminance_does_not(universe):
    videos, queries, plain = universe
    luma_fits, value_fits, chosen = [], [], []
    for clip in plain:
        sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
        filtered = _colour_filter(sampled.frames)
        path = videos[clip.episode_id]
        fits = {}
        for channel in ("luma", "value"):
            tpl = clip_templates(filtered, channel=channel)
            v = verify_segment(tpl, sampled.times, "e", lambda a, b, c=channel: read_window(path, a, b, channel=c),
                               clip.start, 0.0, 1.0, VerifySettings())
            fits[channel] = v.fit_trimmed if v is not None else -1.0
        luma_fits.append(fits["luma"])
        value_fits.append(fits["value"])
        # the Verifier tries value only where luminance did not confirm, and keeps the better
        seg = Segment(clip.episode_id, clip.start, clip.end, 0.0, float(sampled.times[-1]), 1.0, len(sampled.times))
        cand = VisualCandidate(clip.program_id, 0.9, 10, 16, 0.9, clip.episode_id, clip.start, clip.end, segments=[seg])
        both = VerifySettings(candidates=1, channels=("luma", "value"))
        found, _ = Verifier(videos.get, both).verify(filtered, sampled.times, [[cand]])
        v = found[clip.program_id]
        chosen.append((v.channel, v.fit_trimmed, fits))
        if fits["luma"] >= VerifySettings().enough:
            assert v.channel == "luma"
        else:
            assert v.fit_trimmed >= max(fits.values()) - 1e-6
        only, _ = Verifier(videos.get, VerifySettings(candidates=1, channels=("luma",))).verify(
            filtered, sampled.times, [[cand]])
        assert only[clip.program_id].channel == "luma" and only[clip.program_id].fit_trimmed <= v.fit_trimmed + 1e-6
    luma_fits, value_fits = np.array(luma_fits), np.array(value_fits)
    # a hue rotation and a saturation change keep each pixel's value (max of R, G, B) but not its luminance
    # (measured: luminance 0.37-0.83, value 0.77-0.99 on the tiny universe's plain clips)
    assert np.all(value_fits > luma_fits) and np.mean(value_fits - luma_fits) > 0.15, (luma_fits, value_fits, chosen)
    assert np.median(value_fits) > 0.75, value_fits


def test_the_detail_check_tells_the_clips_own_episode_from_a_chance_fit_of_the_same_coarse_layout(universe):
    videos, queries, plain = universe
    own, chance = [], []
    for clip in plain:
        sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
        end = float(sampled.times[-1])
        for ep, out in [(clip.episode_id, own)] + [(e, chance) for e in videos if e[:-3] != clip.episode_id[:-3]][:3]:
            seg = Segment(ep, clip.start, clip.start + end, 0.0, end, 1.0, len(sampled.times))
            cand = VisualCandidate("p", 0.9, 10, 16, 0.9, ep, clip.start, clip.start + end, segments=[seg])
            check = VerifySettings(detail_width=DETAIL_WIDTH)
            v = Verifier(lambda e: videos.get(e), check).verify(sampled.frames, sampled.times, [[cand]])[0]
            if "p" in v:
                assert v["p"].detail is not None and -1.0 <= v["p"].detail <= 1.0
                out.append(v["p"].detail)
            off = Verifier(lambda e: videos.get(e), VerifySettings())  # not checked unless asked
            assert all(x.detail is None for x in off.verify(sampled.frames, sampled.times, [[cand]])[0].values())
    # another program's episode fits somewhere at some transform, but its detail does not agree with the clip's
    assert len(own) == len(plain) and len(chance) >= len(plain)
    assert np.median(own) > np.median(chance) + 0.2, (own, chance)


def test_a_program_the_title_names_is_searched_among_its_own_keyframes_then_verified(tiny_index, universe):
    from assoc.lookup import Associator, LookupSettings

    videos, queries, plain = universe
    assoc = Associator.open(tiny_index, LookupSettings(short_side=72), signals=["visual"],
                            verify=VerifySettings(program_search=20))
    # a clip the whole-catalog search aligns to its own episode: searching its program alone must find the same place
    for clip in plain:
        sampled, _ = assoc.decode(clip_video_path(queries, clip), {})
        embedded = {"visual": assoc.embed(sampled, {})}
        whole = assoc.clip_signals(clip.clip_id, sampled, xq=embedded["visual"]).visual[0]
        if whole.program_id == clip.program_id and whole.episode_id == clip.episode_id:
            break
    else:
        pytest.fail("no plain clip of the tiny universe is aligned to its own episode")
    timings, degraded = {}, []
    # as if no visual list had aligned it (a heavily edited clip): its own keyframes are searched
    found = assoc.search_programs([clip.program_id], [], embedded, sampled, timings, degraded)
    assert list(found) == [clip.program_id] and not degraded and timings["program_search"] >= 0
    best = max(found[clip.program_id], key=lambda c: c.coverage)
    assert best.program_id == clip.program_id and best.episode_id == clip.episode_id
    assert abs(best.start - whole.start) <= 1.0 and best.coverage >= whole.coverage
    got, problems = assoc.verifier.verify(sampled.frames, sampled.times, [], also=[clip.program_id], searched=found)
    assert not problems and got[clip.program_id].episode_id == clip.episode_id
    assert got[clip.program_id].fit_trimmed > 0.7
    # a program the title names wrongly is searched as well, and fits worse than the clip's own
    other = next(p for p in assoc.index.programs.values()
                 if p.program_id != clip.program_id and clip.episode_id not in {e.episode_id for e in p.episodes})
    wrong = assoc.search_programs([other.program_id], [], embedded, sampled, {}, [])
    got_wrong, _ = assoc.verifier.verify(sampled.frames, sampled.times, [], also=[other.program_id], searched=wrong)
    assert got_wrong[other.program_id].fit_trimmed < got[clip.program_id].fit_trimmed - 0.1
    # one the visual signals already verify is not searched again; a program the index lacks is not searched
    assert assoc.search_programs([clip.program_id], [[whole]], embedded, sampled, {}, []) == {}
    assert assoc.search_programs(["no-such-program"], [], embedded, sampled, {}, []) == {}
    # off (a re-ranker saved before the setting existed): nothing is searched
    off = Associator.open(tiny_index, signals=["visual"], verify=VerifySettings(program_search=None))
    assert off.search_programs([clip.program_id], [], embedded, sampled, {}, []) == {}


def test_a_scan_finds_where_a_clip_fits_in_its_episode_with_no_alignment_given(universe):
    from assoc.verify import read_scan, scan_episode

    videos, queries, plain = universe
    st = VerifySettings(scan=2)
    verifier = Verifier(lambda e: videos.get(e), st)
    own, other = [], []
    for clip in plain:
        sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
        # nothing aligned it: the whole episode is scanned, and the best coarse alignment is where it was cut
        episode, step = read_scan(videos[clip.episode_id], st.scan_width, st.scan_step)
        assert step == pytest.approx(st.scan_step, abs=0.1) and episode.shape[2] == st.scan_width
        hyps = sorted(scan_episode(clip_templates(sampled.frames), None, sampled.times, episode, step, st),
                      key=lambda h: -h[0])
        fit, start, clip_start, speed = hyps[0]
        # the source time it predicts for the clip's middle frame (a short clip leaves the speed loose)
        mid = float(sampled.times[len(sampled.times) // 2])
        assert abs(start + (mid - clip_start) * speed - (clip.start + mid)) <= 1.0, (clip.clip_id, hyps[0])
        wrong = next(e for e in videos if e[:-3] != clip.episode_id[:-3])  # another program's episode
        found, problems = verifier.scan(sampled.frames, sampled.times, [("own", [clip.episode_id]), ("other", [wrong])])
        assert not problems and found["own"].episode_id == clip.episode_id
        own.append(found["own"].fit_trimmed)
        other.append(found["other"].fit_trimmed if "other" in found else -1.0)
    own, other = np.array(own), np.array(other)
    assert np.median(own) > 0.7 and np.mean(own > other + 0.05) >= 0.75, (own, other)


def test_a_scan_reports_a_missing_episode_and_goes_on_with_the_rest(universe, tmp_path):
    videos, queries, plain = universe
    clip = plain[0]
    sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
    paths = dict(videos, gone=tmp_path / "gone.mp4")
    timings: dict = {}
    found, problems = Verifier(lambda e: paths.get(e), VerifySettings(scan=1)).scan(
        sampled.frames, sampled.times, [("p", ["gone", "unknown", clip.episode_id])], timings)
    assert found["p"].episode_id == clip.episode_id and timings["scan"] > 0
    assert len(problems) == 2 and "gone.mp4" in problems[0] and "not found" in problems[0]
    assert "unknown" in problems[1] and "no video" in problems[1]


def test_the_lookup_scans_the_texts_best_and_each_visual_lists_best_unless_confirmed(tiny_index, universe):
    from assoc.lookup import Associator, LookupSettings
    from assoc.rerank.features import ClipSignals, without_text
    from assoc.verify import Verification

    videos, queries, plain = universe
    assoc = Associator.open(tiny_index, LookupSettings(short_side=72), signals=["visual"], verify=VerifySettings(scan=2))
    clip = plain[0]
    sampled, _ = assoc.decode(clip_video_path(queries, clip), {})
    others = [p for p in assoc.index.programs if p != clip.program_id]
    wrong = VisualCandidate(others[0], 0.9, 10, 16, 0.9, None, None, None)
    third = VisualCandidate(others[1], 0.5, 5, 16, 0.5, None, None, None)
    # the text's best first (chosen by the text alone), then each visual list's best, the last list first; at most
    # `scan`
    targets = assoc.scan_targets([[wrong], [third]], [clip.program_id], {})
    assert targets == [(clip.program_id, True), (others[1], False)]
    # in the lists' own order for a re-ranker trained so (stop 23's, which saved no scan_order)
    assoc.verifier.settings = VerifySettings.from_config({**asdict(VerifySettings(scan=2)), "scan_order": "lists"})
    assert assoc.scan_targets([[wrong], [third]], [clip.program_id], {}) == [(clip.program_id, True), (others[0], False)]
    saved = {k: v for k, v in asdict(VerifySettings(scan=2)).items() if k != "scan_order"}
    assert VerifySettings.from_config(saved).scan_order == "lists"
    with pytest.raises(InputError, match="unknown scan order 'sideways'"):
        VerifySettings(scan_order="sideways")
    # a deeper scan (`assoc train reranker --scan-depth 2`): the text's best two and the first list's best two, then
    # each other list's best; the default and stop 24's re-rankers, which saved neither depth, read one of each
    deep = VisualCandidate(others[2], 0.4, 4, 16, 0.4, None, None, None)
    fourth = VisualCandidate(others[3], 0.3, 3, 16, 0.3, None, None, None)
    assoc.verifier.settings = VerifySettings(scan=7, scan_text=2, scan_lead=2)
    assert assoc.scan_targets([[wrong, fourth], [third, deep]], [clip.program_id, others[3]], {}) == [
        (clip.program_id, True), (others[3], True), (others[1], False), (others[2], False), (others[0], False)]
    old = {k: v for k, v in asdict(VerifySettings(scan=7, scan_text=2)).items() if k not in ("scan_text", "scan_lead")}
    assoc.verifier.settings = VerifySettings.from_config(old)
    assert VerifySettings.from_config(old) == VerifySettings(scan=7)
    assert assoc.scan_targets([[wrong, fourth], [third, deep]], [clip.program_id, others[3]], {}) == [
        (clip.program_id, True), (others[1], False), (others[0], False)]
    with pytest.raises(InputError, match="scan_lead"):
        VerifySettings(scan_lead=0)
    assoc.verifier.settings = VerifySettings(scan=2)
    # a program verified at `enough` is not scanned again; one the catalog lacks is not scanned
    confirmed = Verification(others[0], 0.9, 0.9, 0.9, 8, 1.0, False, 0.0)
    assert assoc.scan_targets([[wrong], [third]], ["no-such-program"], {others[0]: confirmed}) == [(others[1], False)]
    out = ClipSignals(clip.clip_id, verified=True, timings={})
    assoc.scan_programs(out, [[wrong]], [clip.program_id], sampled)
    assert out.verification[clip.program_id].episode_id == clip.episode_id
    assert out.verification[clip.program_id].fit_trimmed > 0.7 and out.timings["scan"] > 0
    assert out.unscanned == {clip.program_id: None}
    # the episodes' scan frames are kept between lookups (LookupSettings.scan_cache_mb; 0: none)
    assert assoc.verifier.scan_cache.stats()["misses"] >= 1 and assoc.verifier.scan_cache.max_bytes == 256 * 2**20
    # and the service exports it at each scrape
    from prometheus_client import generate_latest

    from assoc.service.metrics import ServiceMetrics

    text = generate_latest(ServiceMetrics(lambda: assoc).registry).decode()
    misses = assoc.verifier.scan_cache.stats()["misses"]
    assert f"assoc_scan_cache_misses {float(misses)}" in text and "assoc_scan_cache_bytes 0.0" not in text
    assert Associator.open(tiny_index, LookupSettings(scan_cache_mb=0), signals=["visual"],
                           verify=VerifySettings(scan=2)).verifier.scan_cache is None
    # the visual-only re-ranker does not see what the text alone had scanned
    assert clip.program_id not in without_text(out).verification
    assert set(without_text(out).verification) == set(out.verification) - {clip.program_id}


def test_the_scan_cache_keeps_episodes_between_scans_within_its_budget(universe, tmp_path):
    import os
    import shutil

    from assoc.verify import ScanCache, read_scan

    videos, queries, plain = universe
    clip = plain[0]
    a, b = sorted(videos)[:2]
    frames, gap = read_scan(videos[a], 32, 0.5)
    cache = ScanCache(int(frames.nbytes * 1.5))  # room for one episode
    got, got_gap = cache(videos[a], 32, 0.5)
    assert np.array_equal(got, frames) and got_gap == gap and not got.flags.writeable
    assert cache(videos[a], 32, 0.5)[0] is got and cache.stats()["hits"] == 1
    cache(videos[a], 32, 1.0)  # another step is another entry, and drops the first
    cache(videos[a], 32, 0.5)
    assert cache.stats() == {**cache.stats(), "hits": 1, "misses": 3, "episodes": 1, "bytes": frames.nbytes}
    # a file changed on disk is read again
    copy = tmp_path / "episode.mp4"
    shutil.copy(videos[a], copy)
    first = cache(copy, 32, 0.5)[0]
    shutil.copy(videos[b], copy)
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))  # as a later write would
    assert np.array_equal(cache(copy, 32, 0.5)[0], read_scan(videos[b], 32, 0.5)[0])
    assert not np.array_equal(first, read_scan(videos[b], 32, 0.5)[0])
    with pytest.raises(MediaError, match="not found"):
        cache(tmp_path / "gone.mp4", 32, 0.5)
    # a scan through the cache finds what one without it finds
    sampled = sample_frames(clip_video_path(queries, clip), fps=2.0, max_frames=16, short_side=144)
    programs = [("p", [clip.episode_id]), ("q", [b])]
    plain_found, _ = Verifier(lambda e: videos.get(e), VerifySettings(scan=2)).scan(sampled.frames, sampled.times,
                                                                                   programs)
    cached = Verifier(lambda e: videos.get(e), VerifySettings(scan=2), ScanCache(2**26))
    for _ in range(2):
        found, _ = cached.scan(sampled.frames, sampled.times, programs)
        assert found == plain_found
    assert cached.scan_cache.stats()["hits"] == 2


def test_a_scan_depth_below_one_is_refused_before_any_work(tmp_path):
    from assoc.rerank.train import train_reranker

    with pytest.raises(InputError, match="scan depth must be at least 1 \\(got 0\\)"):
        train_reranker(tmp_path / "no-index", tmp_path / "no-clips.jsonl", tmp_path / "out", scan_depth=0)
    assert not (tmp_path / "out").exists()
