"""MoCo v2 pieces on tiny inputs, and a short real training run that resumes and saves."""

from dataclasses import replace

import numpy as np
import pytest
import timm
import torch

from assoc.catalog import load_catalog
from assoc.encoders import load_encoder
from assoc.encoders.timm_encoder import TimmFrameEncoder
from assoc.errors import InputError
from assoc.training.attention import attend, attention_crop, attention_drop, attention_maps
from assoc.training.augment import AugmentSettings, TwoViews
from assoc.training.moco import (
    MoCo,
    MocoSettings,
    ProjectedBackbone,
    calibrate_head_norm,
    freeze_early_stages,
    frozen_norms,
    split_forward,
)
from assoc.training.shortcuts import PAINTERS, paint_shortcuts
from assoc.training.train_encoder import train_encoder

FRAME = np.random.default_rng(0).integers(0, 256, (72, 128, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", sorted(PAINTERS))
def test_each_painter_changes_the_frame(name):
    out = PAINTERS[name](FRAME.copy(), np.random.default_rng(1))
    assert out.dtype == np.uint8 and out.ndim == 3 and not (out.shape == FRAME.shape and np.array_equal(out, FRAME))


def test_shortcuts_go_on_the_query_view_only():
    views = TwoViews(AugmentSettings(image_size=32, standard=False, anti_shortcut=True, shortcut_p=1.0), seed=0)
    q, k = views(FRAME)
    plain = TwoViews(AugmentSettings(image_size=32, standard=False, anti_shortcut=False))(FRAME)[0]
    assert torch.allclose(k, plain) and not torch.allclose(q, plain)
    assert not np.array_equal(paint_shortcuts(FRAME, np.random.default_rng(0), p=1.0), FRAME)


def test_attention_crop_and_drop():
    x = torch.zeros(2, 3, 8, 8)
    x[:, :, 2:4, 4:8] = 1.0
    maps = torch.zeros(2, 8, 8)
    maps[:, 2:4, 4:8] = 1.0
    cropped = attention_crop(x, maps)
    assert torch.allclose(cropped, torch.ones_like(cropped))  # zoomed into the attended box
    dropped = attention_drop(x, maps)
    assert dropped[:, :, 2:4, 4:8].abs().sum() == 0 and torch.equal(dropped[:, :, :2], x[:, :, :2])
    backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0).eval()
    xs = torch.randn(4, 3, 32, 32)
    m = attention_maps(backbone, xs, torch.Generator().manual_seed(0))
    assert m.shape == (4, 32, 32) and float(m.max()) <= 1.0 + 1e-6
    assert attend(backbone, xs, 0.5, 0.5, torch.Generator().manual_seed(0)).shape == xs.shape


def test_moco_step_masks_near_duplicates_and_fills_the_queue():
    torch.manual_seed(0)
    backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
    width = backbone(torch.zeros(2, 3, 32, 32)).shape[1]
    model = MoCo(ProjectedBackbone(backbone, width, 8), queue_size=16, momentum=0.9, temperature=0.2, splits=2,
                 dedup_seconds=2.0)
    x = torch.randn(8, 3, 32, 32)
    episode, t = torch.zeros(8, dtype=torch.long), torch.arange(8).float()
    loss, acc = model(x, x, episode, t)
    assert torch.isfinite(loss) and 0 <= float(acc) <= 1
    assert int(model.queue_ptr) == 8 and (model.queue_group[:8] == 0).all()
    loss.backward()
    # a key of the query's own shot is not a negative, however far apart in time
    far = torch.arange(8).float() * 100
    model.queue.zero_()
    own = model.encoder_q.eval()(x[:1]).detach()[0]
    model.encoder_q.train()
    model.queue[:, 0] = own  # the query's own picture, in the queue
    model.queue_group[:], model.queue_t[:], model.queue_shot[:] = 0, 1000.0, 7
    same_shot = torch.full((8,), 7, dtype=torch.long)
    model.queue_ptr.zero_()
    l_masked, _ = model(x, x, episode, far, same_shot)
    model.queue[:, 0] = own
    model.queue_group[:], model.queue_t[:], model.queue_shot[:] = 0, 1000.0, 7
    model.queue_ptr.zero_()
    l_open, _ = model(x, x, episode, far, same_shot + 1)
    assert float(l_masked) < float(l_open)
    assert all(p.grad is None for p in model.encoder_k.parameters())
    assert split_forward(model.encoder_q, x, 4).shape == (8, 8)


def test_short_training_saves_a_trained_encoder_and_resumes(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    settings = MocoSettings(arch="test_efficientnet", head_dim=16, embed_dim=16, batch_size=16, epochs=1,
                            augment=AugmentSettings(image_size=48), train_fps=1.0, mask="program")
    report = train_encoder(catalog, tmp_path / "enc", settings)
    assert report.steps == report.frames // 16 and len(report.losses) == 1 and np.isfinite(report.losses[0])
    enc = load_encoder(tmp_path / "enc")
    assert enc.trained and enc.config()["training"]["method"] == "moco_v2"
    assert enc.luma and enc.config()["training"]["settings"]["mask"] == "program"  # luma input: the default
    assert enc.embed(FRAME[None]).shape == (1, 16)
    again = train_encoder(catalog, tmp_path / "enc2", settings, checkpoint_dir=tmp_path / "enc.ckpt")
    assert again.resumed_from_epoch == 1 and again.steps == report.steps  # nothing left to train
    ckpt = tmp_path / "enc.ckpt" / "moco.pt"  # written before the stop-36 settings existed: still resumes
    state = torch.load(ckpt, weights_only=False)
    for k in ("freeze_bn", "train_stages", "head_norm"):
        del state["settings"][k]
    torch.save(state, ckpt)
    older = train_encoder(catalog, tmp_path / "enc3", settings, checkpoint_dir=tmp_path / "enc.ckpt")
    assert older.resumed_from_epoch == 1
    other = train_encoder(catalog, tmp_path / "enc4", replace(settings, head_norm=True), checkpoint_dir=tmp_path / "enc.ckpt")
    assert other.resumed_from_epoch == 0  # other settings: trained afresh
    untrained = train_encoder(catalog, tmp_path / "untrained", replace(settings, epochs=0))
    base = load_encoder(tmp_path / "untrained")
    assert untrained.steps == 0 and not base.trained and base.calibrated and base.luma
    assert np.abs(base.embed(FRAME[None]) - enc.embed(FRAME[None])).max() > 1e-3  # not the trained weights
    with pytest.raises(InputError, match="negatives mask 'season'"):
        train_encoder(catalog, tmp_path / "x", MocoSettings(arch="test_efficientnet", mask="season", batch_size=4,
                                                            augment=AugmentSettings(image_size=48)))
    with pytest.raises(InputError, match="training frames"):
        train_encoder(catalog, tmp_path / "x", MocoSettings(arch="test_efficientnet", batch_size=4096, epochs=1,
                                                            augment=AugmentSettings(image_size=48)))


def test_batch_augment_is_seeded_and_each_step_does_what_it_says():
    from assoc.training.batch_augment import BatchAugment, colour_jitter, gaussian_blur, greyscale, resized_crop

    x = torch.from_numpy(np.stack([FRAME, FRAME[::-1].copy()])).permute(0, 3, 1, 2)
    a, b = BatchAugment(32, seed=5)(x), BatchAugment(32, seed=5)(x)
    assert a.shape == (2, 3, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, BatchAugment(32, seed=6)(x))
    f = x.float() / 255
    g = torch.Generator().manual_seed(0)
    whole = resized_crop(f, 64, g, scale=(1.0, 1.0), ratio=(128 / 72, 128 / 72), flip_p=1.0)
    ref = torch.nn.functional.interpolate(f.flip(3), size=(64, 64), mode="bilinear", align_corners=False)
    assert (whole - ref).abs().mean() < 0.05  # the whole frame, mirrored
    grey = f.mean(1, keepdim=True).expand_as(f).contiguous()
    jittered = colour_jitter(grey, g, p=1.0)
    assert (jittered - jittered.mean(1, keepdim=True)).abs().max() < 1e-4  # hue and saturation leave grey grey
    assert not torch.allclose(colour_jitter(f, g, p=1.0), f)
    assert torch.allclose(greyscale(f, g, p=0.0), f)
    assert torch.allclose(gaussian_blur(f, g, p=0.0), f, atol=1e-5)  # sigma 0: no blur
    assert gaussian_blur(f, g, p=1.0).std() < f.std()


def test_episode_ranges_and_the_episode_mask():
    from assoc.training.train_encoder import _episode_ranges

    start, end = _episode_ranges(np.array([0, 0, 0, 3, 3, 7]))
    assert start.tolist() == [0, 0, 0, 3, 3, 5] and end.tolist() == [3, 3, 3, 5, 5, 6]
    torch.manual_seed(0)
    backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
    width = backbone(torch.zeros(2, 3, 32, 32)).shape[1]
    x = torch.randn(8, 3, 32, 32)
    losses = []
    for mask_group in (True, False):
        model = MoCo(ProjectedBackbone(backbone, width, 8), queue_size=16, momentum=0.9, temperature=0.2, splits=1,
                     dedup_seconds=2.0, mask_group=mask_group)
        model.queue.zero_()
        model.queue[:, 0] = model.encoder_q.eval()(x[:1]).detach()[0]
        model.encoder_q.train()
        model.queue_group[:], model.queue_t[:] = 0, 1000.0  # same episode, far in time, another shot
        losses.append(float(model(x, x, torch.zeros(8, dtype=torch.long), torch.zeros(8))[0]))
    assert losses[0] < losses[1]  # with the mask, the own-episode copy is no negative


def test_training_only_the_last_stage_with_frozen_batch_norm(tiny_universe, taxonomy, tmp_path):
    """`train_stages` 1 + `freeze_bn`: the stem and every earlier stage keep their initial weights, every batch
    norm its initial statistics (the network trained is the one embedded), and the last stage learns."""
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    settings = MocoSettings(arch="test_efficientnet", head_dim=16, embed_dim=16, batch_size=16, epochs=1,
                            augment=AugmentSettings(image_size=48), optimizer="adamw", freeze_bn=True, train_stages=1)
    train_encoder(catalog, tmp_path / "enc", settings)
    trained = load_encoder(tmp_path / "enc").net.backbone.state_dict()
    start = TimmFrameEncoder("test_efficientnet", dim=16, image_size=48, seed=0).net.backbone.state_dict()
    last = len(load_encoder(tmp_path / "enc").net.backbone.blocks) - 1
    changed = {k for k in start if not torch.equal(start[k], trained[k])}
    assert changed and all(k.startswith((f"blocks.{last}.", "conv_head", "bn2")) for k in changed)
    assert not any("running_" in k for k in changed)  # statistics never move
    assert any(k.startswith(f"blocks.{last}.") for k in changed)
    with pytest.raises(InputError, match="last 99 stages"):
        train_encoder(catalog, tmp_path / "x", replace(settings, train_stages=99))


def test_freeze_early_stages_and_frozen_norms():
    backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0)
    trainable = freeze_early_stages(backbone, 2)
    n = len(backbone.blocks)
    assert trainable[:2] == [f"blocks.{n - 2}", f"blocks.{n - 1}"] and "conv_head" in trainable
    assert not any(p.requires_grad for p in backbone.conv_stem.parameters())
    assert not any(p.requires_grad for p in backbone.blocks[n - 3].parameters())
    assert all(p.requires_grad for p in backbone.blocks[n - 1].parameters())
    enc = ProjectedBackbone(backbone, int(backbone.num_features), 8)
    frozen = frozen_norms(enc, freeze_bn=False)
    assert "backbone.bn1" in frozen and not any(f.startswith(f"backbone.blocks.{n - 1}.") for f in frozen)
    everything = frozen_norms(enc, freeze_bn=True)
    assert set(frozen) < set(everything) and "backbone.bn2" in everything
    assert freeze_early_stages(timm.create_model("test_efficientnet", num_classes=0), 0)  # nothing frozen


def test_head_norm_spreads_a_random_backbones_features():
    """With batch norms at their initial statistics a random backbone's pooled features share one direction, so
    the head maps every frame to nearly one vector; standardising them first (`head_norm`, statistics fixed by
    `calibrate_head_norm`) spreads them, and a frame's output does not depend on the batch it is in."""
    torch.manual_seed(0)
    x = torch.rand(64, 3, 48, 48)
    spread = {}
    for norm in (False, True):
        torch.manual_seed(1)
        backbone = timm.create_model("test_efficientnet", pretrained=False, num_classes=0).eval()
        enc = ProjectedBackbone(backbone, int(backbone.num_features), 16, norm=norm).train()
        for n in frozen_norms(enc, freeze_bn=True):
            dict(enc.named_modules())[n].eval()
        calibrate_head_norm(enc, [x[:32], x[32:]])
        with torch.no_grad():
            z = enc(x)
            alone = enc(torch.cat([x[:1], x[40:50]]))[0]
        cos = z @ z.T
        spread[norm] = float(cos[~torch.eye(64, dtype=torch.bool)].mean())
        assert torch.allclose(alone, z[0], atol=1e-5)
    assert spread[False] > 0.99 and spread[True] < 0.8, spread
