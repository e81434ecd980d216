"""Shared fixtures: one tiny universe and one tiny index per test session (fixed seeds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assoc.catalog import load_catalog
from assoc.encoders import create_encoder
from assoc.index_build import BuildSettings, build_index
from assoc.taxonomy import load_taxonomy
from eval.synth.generate import synthesize
from eval.synth.presets import get_preset

TINY_SEED = 0


@pytest.fixture(scope="session")
def taxonomy():
    return load_taxonomy()


@pytest.fixture(scope="session")
def tiny_universe(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_universe")
    synthesize(out, get_preset("tiny"), TINY_SEED, workers=2)
    return out


def tiny_encoder():
    return create_encoder("test_efficientnet", dim=32, image_size=64, seed=0)


@pytest.fixture(scope="session")
def tiny_index(tiny_universe, tmp_path_factory, taxonomy) -> Path:
    out = tmp_path_factory.mktemp("tiny_index") / "index"
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    build_index(catalog, out, tiny_encoder(), BuildSettings(keyframe_fps=2.0, short_side=72))
    return out


def _close(a, b, path="") -> None:
    """Two reports agree: the same keys, counts and names, figures within float noise (worker processes run torch and
    FAISS single-threaded, which sums in another order: similarities differ in the seventh digit)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (a != a and b != b) or a == pytest.approx(b, rel=1e-4, abs=2e-4), path
    else:
        assert a == b, path


@pytest.fixture
def close():
    """assert close(a, b): nested reports equal up to float noise (see _close)."""
    return _close
