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

    def make(self):
        return create_vector_index(self.backend, self.dim)

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


def test_unknown_backend_lists_known():
    with pytest.raises(UnknownBackendError, match="known: bruteforce, flat"):
        create_vector_index("annoy", 4)


def test_missing_config_is_corrupt(tmp_path):
    with pytest.raises(IndexCorruptError, match="vector_index.json"):
        load_vector_index(tmp_path)
