"""One conformance class that every vector backend passes, checked against brute force."""

import numpy as np
import pytest

from indexes.errors import IndexCorruptError, UnknownBackendError
from indexes.vector import VECTOR_BACKENDS, BruteForceIndex, create_vector_index, load_vector_index, save_vector_index


def unit(rng, n, d):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class VectorIndexConformance:
    backend = ""
    dim = 16

    @pytest.fixture
    def data(self):
        rng = np.random.default_rng(42)
        return np.arange(100, 300, dtype=np.int64), unit(rng, 200, self.dim), unit(rng, 12, self.dim)

    params: dict = {}

    def make(self):
        index = create_vector_index(self.backend, self.dim, **self.params)
        if getattr(index, "is_trained", True) is False:
            rng = np.random.default_rng(0)
            index.train(unit(rng, 512, self.dim))
        return index

    def test_search_matches_brute_force(self, data):
        ids, xb, xq = data
        index, ref = self.make(), BruteForceIndex(self.dim)
        index.add(ids, xb)
        ref.add(ids, xb)
        D, I = index.search(xq, 5)
        Dr, Ir = ref.search(xq, 5)
        np.testing.assert_array_equal(I, Ir)
        np.testing.assert_allclose(D, Dr, atol=1e-5)
        assert index.ntotal == 200

    def test_exact_vector_is_its_own_nearest(self, data):
        ids, xb, _ = data
        index = self.make()
        index.add(ids, xb)
        D, I = index.search(xb[:10], 1)
        np.testing.assert_array_equal(I[:, 0], ids[:10])
        np.testing.assert_allclose(D[:, 0], 1.0, atol=1e-5)

    def test_fewer_vectors_than_k_pads_with_minus_one(self, data):
        ids, xb, xq = data
        index = self.make()
        index.add(ids[:3], xb[:3])
        D, I = index.search(xq[:2], 5)
        assert (I[:, 3:] == -1).all() and np.isneginf(D[:, 3:]).all()

    def test_remove(self, data):
        ids, xb, xq = data
        index = self.make()
        index.add(ids, xb)
        assert index.remove(ids[:50]) == 50
        _, I = index.search(xq, 10)
        assert not np.isin(I, ids[:50]).any() and index.ntotal == 150

    exact_vectors = True  # False: the index keeps lossy codes, so vectors() returns them decoded

    def test_vectors_returns_held_ids_in_order_and_skips_removed(self, data):
        ids, xb, _ = data
        index = self.make()
        index.add(ids, xb)
        index.remove(ids[:5])
        asked = np.concatenate([ids[[40, 3, 4, 10]], [9999]])  # two removed, one never added
        found, got = index.vectors(asked)
        np.testing.assert_array_equal(found, ids[[40, 10]])
        assert got.shape == (2, self.dim) and got.dtype == np.float32
        np.testing.assert_allclose(got, xb[[40, 10]], atol=1e-5 if self.exact_vectors else 0.5)
        found, got = index.vectors(ids[50:60])  # all held: the fast path
        np.testing.assert_array_equal(found, ids[50:60])
        assert index.remove(ids[60:62]) == 2  # still removable after vectors() (IVF's direct map)

    def test_save_load_round_trip(self, data, tmp_path):
        ids, xb, xq = data
        index = self.make()
        index.add(ids, xb)
        save_vector_index(index, tmp_path)
        again = load_vector_index(tmp_path)
        assert again.name == self.backend
        np.testing.assert_array_equal(again.search(xq, 7)[1], index.search(xq, 7)[1])

    def test_wrong_dimension_is_refused(self):
        with pytest.raises(ValueError, match="shape"):
            self.make().add(np.arange(2), np.zeros((2, self.dim + 1), np.float32))


@pytest.mark.parametrize("backend", sorted(VECTOR_BACKENDS))
def test_every_backend_has_a_conformance_class(backend):
    assert backend in {c.backend for c in VectorIndexConformance.__subclasses__()}


class TestBruteForce(VectorIndexConformance):
    backend = "bruteforce"


class TestFaissFlat(VectorIndexConformance):
    backend = "flat"


class TestFaissIVFExhaustive(VectorIndexConformance):
    """IVF with flat codes probing every list is exact: it must agree with brute force."""

    backend = "ivf"
    params = {"nlist": 8, "codec": "Flat", "nprobe": 8}


class TestFaissIVFRefined(VectorIndexConformance):
    """Lossy PQ codes probing every list, re-scored with float32 vectors: exact again."""

    backend = "ivf"
    params = {"nlist": 8, "codec": "PQ4x4", "nprobe": 8, "refine": 40, "refine_dtype": "float32"}


def clustered(rng, n_clusters, per, d, spread=0.15):
    centres = unit(rng, n_clusters, d)
    x = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(n_clusters * per, d)).astype(np.float32) / np.sqrt(d)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("codec,hnsw", [("SQ8", False), ("SQ8", True)])
def test_approximate_ivf_recall_against_exact(codec, hnsw):
    rng = np.random.default_rng(1)
    xb = clustered(rng, 50, 100, 64)
    xq = xb[rng.choice(len(xb), 50, replace=False)] + 0.02 * rng.normal(size=(50, 64)).astype(np.float32)
    xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    exact = BruteForceIndex(64)
    exact.add(np.arange(len(xb)), xb)
    ivf = create_vector_index("ivf", 64, nlist=32, codec=codec, hnsw_quantizer=hnsw, nprobe=8)
    ivf.train(xb)
    ivf.add(np.arange(len(xb)), xb)
    _, Ie = exact.search(xq, 10)
    _, Ia = ivf.search(xq, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(Ia, Ie)])
    assert recall >= 0.8, recall
    _, I1 = ivf.search(xq, 10, nprobe=1)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(I1, Ie)]) <= recall  # nprobe is honoured per query


def test_ivf_pq_builds_searches_and_removes():
    rng = np.random.default_rng(2)
    xb = clustered(rng, 20, 50, 32)
    ivf = create_vector_index("ivf", 32, nlist=16, codec="PQ8x4", nprobe=16)
    ivf.train(xb)
    ivf.add(np.arange(len(xb)), xb)
    D, I = ivf.search(xb[:5], 3)
    assert I.shape == (5, 3) and (I >= 0).all()
    assert ivf.remove(np.arange(100)) == 100 and ivf.ntotal == len(xb) - 100


def test_untrained_ivf_refuses_vectors():
    from indexes.errors import IndexBackendError

    ivf = create_vector_index("ivf", 8, nlist=4, codec="Flat")
    with pytest.raises(IndexBackendError, match="must be trained"):
        ivf.add(np.arange(2), np.ones((2, 8), np.float32))


def test_unknown_backend_lists_known():
    with pytest.raises(UnknownBackendError, match="known: bruteforce, flat, ivf"):
        create_vector_index("annoy", 4)


def test_missing_config_is_corrupt(tmp_path):
    with pytest.raises(IndexCorruptError, match="vector_index.json"):
        load_vector_index(tmp_path)


def test_hnsw_quantizer_beam_is_set_for_adds_and_kept_on_load(tmp_path):
    rng = np.random.default_rng(3)
    xb = clustered(rng, 20, 50, 32)
    ivf = create_vector_index("ivf", 32, nlist=16, codec="SQ8", hnsw_quantizer=True, ef_search=64)
    assert ivf._hnsw_quantizer().hnsw.efSearch == 64  # before training: adds assign lists with this beam
    ivf.train(xb)
    ivf.add(np.arange(len(xb)), xb)
    save_vector_index(ivf, tmp_path)
    loaded = load_vector_index(tmp_path)
    assert loaded.params["ef_search"] == 64 and loaded._hnsw_quantizer().hnsw.efSearch == 64
    assert create_vector_index("ivf", 32, nlist=16, codec="SQ8")._hnsw_quantizer() is None


# fast-scan PQ at 4 bits a sub-vector finds only a quarter of the true neighbours alone: a wide refine
@pytest.mark.parametrize("codec,factor,floor", [("SQ8", 4, 0.98), ("PQ16x4fs", 30, 0.95)])
def test_refining_recovers_the_exact_order_that_codes_blur(codec, factor, floor, tmp_path):
    rng = np.random.default_rng(4)
    xb = clustered(rng, 40, 100, 64, spread=0.6)
    xq = unit(rng, 30, 64)
    exact = BruteForceIndex(64)
    exact.add(np.arange(len(xb)), xb)
    De, Ie = exact.search(xq, 10)
    recall = {}
    for refine in (0, factor):
        ivf = create_vector_index("ivf", 64, nlist=16, codec=codec, nprobe=16, refine=refine)
        ivf.train(xb)
        ivf.add(np.arange(len(xb)), xb)
        D, I = ivf.search(xq, 10)
        recall[refine] = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(I, Ie)])
    assert recall[factor] >= floor and recall[factor] > recall[0], recall
    found = (I == Ie).all(1)  # rows where the same ten came back: float16 scores within about 1e-3
    np.testing.assert_allclose(D[found], De[found], atol=2e-3)
    save_vector_index(ivf, tmp_path)
    again = load_vector_index(tmp_path)
    assert again.params["refine"] == factor and (tmp_path / "raw_vectors.npy").exists()
    np.testing.assert_array_equal(again.search(xq, 10)[1], I)
    assert again.remove(I[:, 0]) > 0 and not np.isin(again.search(xq, 10)[1], I[:, 0]).any()
    with pytest.raises(IndexCorruptError, match="raw_vectors.npy"):
        (tmp_path / "raw_vectors.npy").write_bytes(b"junk")
        load_vector_index(tmp_path)
