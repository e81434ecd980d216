"""Every registered encoder: shape, normalisation, save/load round trip, integrity checks."""

import numpy as np
import pytest

from assoc.encoders import create_encoder, list_encoders, load_encoder
from assoc.errors import InputError, ModelError

FRAMES = np.random.default_rng(0).integers(0, 256, (5, 36, 64, 3), dtype=np.uint8)


def small(name):
    kw = {} if name in ("color_histogram", "luma_thumbnail") else {"dim": 16, "image_size": 32}
    return create_encoder(name, **kw)


@pytest.mark.parametrize("name", list_encoders())
def test_registry_encoder_embeds_normalised_vectors(name, tmp_path):
    enc = small(name)
    v = enc.embed(FRAMES)
    assert v.shape == (5, enc.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    checksum = enc.save(tmp_path / "enc")
    again = load_encoder(tmp_path / "enc")
    assert again.checksum == checksum == enc.checksum
    np.testing.assert_allclose(again.embed(FRAMES), v, atol=1e-5)


def test_unknown_encoder_lists_known_names():
    with pytest.raises(InputError) as e:
        create_encoder("resnet9000")
    assert "resnet9000" in str(e.value) and "efficientnet_b0" in str(e.value)


def test_untrained_encoder_is_reproducible_from_its_seed():
    a = create_encoder("test_efficientnet", dim=8, image_size=32, seed=3)
    b = create_encoder("test_efficientnet", dim=8, image_size=32, seed=3)
    c = create_encoder("test_efficientnet", dim=8, image_size=32, seed=4)
    assert a.checksum == b.checksum != c.checksum


def test_calibration_changes_statistics_not_weights():
    enc = create_encoder("test_efficientnet", dim=8, image_size=32)
    before = enc.checksum
    enc.calibrate(FRAMES)
    assert enc.calibrated and enc.checksum != before  # batch-norm buffers are part of the model
    v = enc.embed(FRAMES)
    assert float((v @ v.T)[np.triu_indices(5, 1)].max()) < 0.999  # frames no longer collapse to one vector


def test_tampered_weights_are_refused(tmp_path):
    enc = small("test_efficientnet")
    enc.save(tmp_path / "enc")
    weights = tmp_path / "enc" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match its checksum"):
        load_encoder(tmp_path / "enc")
    with pytest.raises(ModelError, match="not an encoder directory"):
        load_encoder(tmp_path)


def test_local_weight_file_is_loaded(tmp_path):
    import torch

    src = create_encoder("test_efficientnet", dim=8, image_size=32, seed=1)
    torch.save(src.net.backbone.state_dict(), tmp_path / "w.pth")
    enc = create_encoder("test_efficientnet", dim=8, image_size=32, seed=2, weights=tmp_path / "w.pth")
    for (k, a), (_, b) in zip(src.net.backbone.state_dict().items(), enc.net.backbone.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ModelError, match="not found"):
        create_encoder("test_efficientnet", weights=tmp_path / "absent.pth")


def test_luma_thumbnail_ignores_colour_borders_and_flips():
    rng = np.random.default_rng(1)
    layout = np.linspace(40, 160, 72)[:, None] + np.zeros((72, 128))  # a sky-to-ground ramp...
    layout[10:30, 20:50] = 250  # ...with something bright on the left
    frame = np.clip(layout[..., None] + rng.integers(-10, 10, (72, 128, 3)), 0, 255).astype(np.uint8)
    enc = create_encoder("luma_thumbnail")
    base = enc.embed(frame[None])[0]
    tinted = np.clip(frame.astype(int) * [1.2, 0.9, 0.6] + 20, 0, 255).astype(np.uint8)  # colour and brightness
    boxed = np.zeros((112, 128, 3), np.uint8)
    boxed[20:92] = frame  # letterboxed
    others = enc.embed(np.stack([tinted, frame[:, ::-1]]))
    assert (others @ base > 0.95).all()
    assert enc.embed(boxed[None])[0] @ base > 0.95
    assert enc.embed(rng.integers(0, 256, (1, 72, 128, 3), dtype=np.uint8))[0] @ base < 0.5  # another picture


def _scene(h=72, w=128, seed=1):
    rng = np.random.default_rng(seed)
    layout = np.linspace(40, 160, h)[:, None] + np.zeros((h, w))
    layout[10:30, 20:50] = 250
    return np.clip(layout[..., None] + rng.integers(-10, 10, (h, w, 3)), 0, 255).astype(np.uint8)


def test_canonical_view_trims_borders_and_keeps_a_portrait_frames_band():
    from assoc.encoders.canonical import canonical_view

    frame = _scene()
    assert canonical_view(frame) is frame or np.array_equal(canonical_view(frame), frame)  # landscape: unchanged
    boxed = np.zeros((112, 128, 3), np.uint8)
    boxed[20:92] = frame
    np.testing.assert_array_equal(canonical_view(boxed), frame)
    portrait = np.full((228, 128, 3), (200, 30, 90), np.uint8)  # solid padding above and below
    portrait[78:150] = frame  # the whole landscape frame across the middle (72 = 128 x 9 / 16)
    np.testing.assert_array_equal(canonical_view(portrait), frame)


def test_luma_thumbnail_finds_the_band_of_a_vertical_reframe(tmp_path):
    import cv2

    frame = _scene()
    portrait = cv2.GaussianBlur(cv2.resize(frame[:, 32:96], (128, 228)), (0, 0), 8)  # blurred padding
    portrait[78:150] = frame
    band, old = create_encoder("luma_thumbnail"), create_encoder("luma_thumbnail", portrait_band=False)
    assert band.embed(portrait[None])[0] @ band.embed(frame[None])[0] > 0.95
    assert old.embed(portrait[None])[0] @ old.embed(frame[None])[0] < 0.9
    band.save(tmp_path / "band")
    assert load_encoder(tmp_path / "band").portrait_band


def test_timm_encoder_mirror_makes_a_flipped_frame_identical_and_old_configs_load_without_it(tmp_path):
    import json

    frames = np.stack([_scene(), _scene(seed=2)])
    enc = create_encoder("test_efficientnet", dim=8, image_size=32)
    assert enc.canonical and enc.mirror
    np.testing.assert_allclose(enc.embed(frames[:, :, ::-1]), enc.embed(frames), atol=1e-5)
    plain = create_encoder("test_efficientnet", dim=8, image_size=32, mirror=False)
    assert np.abs(plain.embed(frames[:, :, ::-1]) - plain.embed(frames)).max() > 1e-3
    enc.save(tmp_path / "enc")
    config = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert config["canonical"] is True and config["mirror"] is True
    again = load_encoder(tmp_path / "enc")
    np.testing.assert_allclose(again.embed(frames), enc.embed(frames), atol=1e-5)
    from assoc.encoders.timm_encoder import TimmFrameEncoder

    old = TimmFrameEncoder.from_saved(tmp_path / "enc", {k: v for k, v in config.items()
                                                          if k not in ("canonical", "mirror")})
    assert not old.canonical and not old.mirror  # saved before the options existed: behaviour unchanged
    legacy = create_encoder("test_efficientnet", dim=8, image_size=32, canonical=False, mirror=False)
    assert "canonical" not in legacy.config() and "mirror" not in legacy.config()  # same config, same checksum
    thumb = create_encoder("luma_thumbnail", portrait_band=False)
    assert thumb.config() == {"size": 16, "dim": 256, "trained": False}


def test_timm_encoder_luma_input_ignores_brightness_contrast_and_saturation(tmp_path):
    import cv2

    frames = np.stack([_scene(), _scene(seed=2)]) // 2 + 40  # 40-167: the edit below does not clip
    edited = []
    for f in frames:  # what a colour edit does: brightness and contrast, then saturation
        g = cv2.convertScaleAbs(f, alpha=1.3, beta=-25)
        hsv = cv2.cvtColor(g, cv2.COLOR_RGB2HSV)
        hsv[..., 1] = (hsv[..., 1] * 0.5).astype(np.uint8)
        edited.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    edited = np.stack(edited)
    luma = create_encoder("test_efficientnet", dim=8, image_size=32, luma=True)
    rgb = create_encoder("test_efficientnet", dim=8, image_size=32)
    assert "luma" not in rgb.config()  # off: the config (and checksum) of encoders saved before it
    moved = lambda enc: float((enc.preprocess(edited) - enc.preprocess(frames)).abs().mean()  # noqa: E731
                              / enc.preprocess(frames).abs().mean())
    assert moved(luma) < 0.1 and moved(rgb) > 2.5 * moved(luma)  # the network's input barely moves
    gap = lambda enc: float(np.abs(enc.embed(edited) - enc.embed(frames)).max())  # noqa: E731
    assert gap(luma) < 0.5 * gap(rgb)
    luma.save(tmp_path / "enc")
    again = load_encoder(tmp_path / "enc")
    assert again.luma and again.config()["luma"] is True
    np.testing.assert_allclose(again.embed(frames), luma.embed(frames), atol=1e-5)


@pytest.mark.parametrize("edits", [["color"], ["color", "crop"]])
def test_relative_histogram_finds_colour_edited_and_cropped_frames(tiny_universe, edits):
    """Keyframes of the tiny universe, edited by the bench's own clip editor: the relative histogram
    finds each edited frame's source among all of them far more often than the colour histogram."""
    from assoc.catalog import load_catalog
    from assoc.media import sample_frames
    from eval.synth.edits import ClipEditor

    catalog = load_catalog(tiny_universe / "catalog.jsonl")
    frames = np.concatenate([sample_frames(catalog.video_path(e.video), fps=0.2, max_frames=4, short_side=144).frames
                             for p in catalog.programs for e in p.episodes])
    found = {}
    for name in ("relative_histogram", "color_histogram"):
        enc = create_encoder(name)
        vectors = enc.embed(frames)
        edited = np.stack([ClipEditor(edits, frames.shape[2], frames.shape[1], seed=i)(f, 0.0) for i, f in enumerate(frames)])
        found[name] = float(np.mean(np.argmax(enc.embed(edited) @ vectors.T, axis=1) == np.arange(len(frames))))
    assert found["relative_histogram"] >= 0.7, found
    assert found["relative_histogram"] >= found["color_histogram"] + 0.3, found


def test_relative_histogram_rejects_empty_bins():
    with pytest.raises(InputError, match="at least 1"):
        create_encoder("relative_histogram", hue_bins=0)
    with pytest.raises(InputError, match="brightness must be one of value, luma"):
        create_encoder("relative_histogram", brightness="lightness")


def test_relative_histogram_by_value_survives_a_colour_edit_better_than_by_luminance(tiny_universe, tmp_path):
    """A hue rotation or a saturation change moves each colour's luminance by its own amount, not its HSV value:
    the histogram by value stays nearer the source's. An encoder saved before the option existed loads with
    luminance, as its vectors were built."""
    import json

    from assoc.catalog import load_catalog
    from assoc.encoders import load_encoder
    from assoc.media import sample_frames
    from eval.synth.edits import ClipEditor

    catalog = load_catalog(tiny_universe / "catalog.jsonl")
    frames = np.concatenate([sample_frames(catalog.video_path(e.video), fps=0.2, max_frames=4, short_side=144).frames
                             for p in catalog.programs for e in p.episodes])
    edited = np.stack([ClipEditor(["color"], frames.shape[2], frames.shape[1], seed=i)(f, 0.0) for i, f in enumerate(frames)])
    same = {}
    for brightness in ("value", "luma"):
        enc = create_encoder("relative_histogram", brightness=brightness)
        same[brightness] = float(np.mean(np.sum(enc.embed(frames) * enc.embed(edited), axis=1)))
    assert same["value"] > same["luma"] + 0.05, same
    enc = create_encoder("relative_histogram")
    assert enc.brightness == "value" and enc.config()["brightness"] == "value"
    enc.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["brightness"]  # as written before stop 19
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = load_encoder(tmp_path / "old")
    assert old.brightness == "luma"
    np.testing.assert_allclose(old.embed(frames[:3]), create_encoder("relative_histogram", brightness="luma").embed(frames[:3]))
