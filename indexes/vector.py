"""Vector indexes over L2-normalised float32 vectors with int64 ids, searched by inner product.

One interface (`add`, `remove`, `search`, `vectors`, `save`, `load`), a brute-force numpy reference, and FAISS
backends built by name. Every backend passes the conformance tests in tests/indexes.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from indexes.errors import DeviceUnavailableError, IndexBackendError, IndexCorruptError, UnknownBackendError


def _check(xb: np.ndarray, dim: int) -> np.ndarray:
    xb = np.ascontiguousarray(xb, dtype=np.float32)
    if xb.ndim != 2 or xb.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {xb.shape}")
    return xb


class VectorIndex(ABC):
    name: str = ""

    def __init__(self, dim: int):
        self.dim = dim

    @abstractmethod
    def add(self, ids: np.ndarray, xb: np.ndarray) -> None: ...

    @abstractmethod
    def remove(self, ids: np.ndarray) -> int: ...

    @abstractmethod
    def search(self, xq: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """D (nq x k, inner products, descending) and I (nq x k ids, -1 where fewer than k)."""

    @abstractmethod
    def vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of those of `ids` the index holds: (ids found, in the order asked; n x dim float32).
        A compressed index returns its codes decoded (approximate), a refining one its exact copies."""

    @property
    @abstractmethod
    def ntotal(self) -> int: ...

    @abstractmethod
    def save(self, directory: Path) -> list[str]:
        """Write into `directory`; return the file names written."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, dim: int) -> "VectorIndex": ...


class BruteForceIndex(VectorIndex):
    """The numpy reference: exact, simple, for tests and tiny catalogs."""

    name = "bruteforce"

    def __init__(self, dim: int):
        super().__init__(dim)
        self.ids = np.zeros(0, np.int64)
        self.xb = np.zeros((0, dim), np.float32)

    def add(self, ids, xb) -> None:
        xb = _check(xb, self.dim)
        self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64)])
        self.xb = np.concatenate([self.xb, xb])

    def remove(self, ids) -> int:
        keep = ~np.isin(self.ids, np.asarray(ids, np.int64))
        removed = int((~keep).sum())
        self.ids, self.xb = self.ids[keep], self.xb[keep]
        return removed

    def search(self, xq, k):
        xq = _check(xq, self.dim)
        sims = xq @ self.xb.T  # nq x n
        n = min(k, len(self.ids))
        D = np.full((len(xq), k), -np.inf, np.float32)
        I = np.full((len(xq), k), -1, np.int64)  # noqa: E741
        if n:
            order = np.argsort(-sims, axis=1, kind="stable")[:, :n]
            D[:, :n] = np.take_along_axis(sims, order, 1)
            I[:, :n] = self.ids[order]
        return D, I

    def vectors(self, ids):
        ids = np.asarray(ids, np.int64)
        pos = {int(i): j for j, i in enumerate(self.ids)}
        found = np.array([i for i in ids if int(i) in pos], np.int64)
        return found, self.xb[[pos[int(i)] for i in found]].reshape(len(found), self.dim)

    @property
    def ntotal(self) -> int:
        return len(self.ids)

    def save(self, directory: Path) -> list[str]:
        np.savez(directory / "vectors.npz", ids=self.ids, xb=self.xb)
        return ["vectors.npz"]

    @classmethod
    def load(cls, directory: Path, dim: int) -> "BruteForceIndex":
        idx = cls(dim)
        with np.load(directory / "vectors.npz") as z:
            idx.ids, idx.xb = z["ids"], z["xb"]
        return idx


def gpu_available() -> bool:
    """True when the installed FAISS has GPU support (faiss-gpu) and sees a CUDA device."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class FaissFlatIndex(VectorIndex):
    """Exact inner-product search (IndexFlatIP) with arbitrary int64 ids (IndexIDMap2).

    `use_gpu()` searches a GPU copy (faiss-gpu with CUDA). The CPU index stays the one that is
    changed and written (a GPU index must be copied back to the CPU to be written); a change drops
    the GPU copy, which is made again on the next search. One StandardGpuResources object may be
    used by one thread at a time, so GPU searches are serialised by a lock.
    """

    name = "flat"
    FILE = "vectors.faiss"

    def __init__(self, dim: int, index=None):
        import faiss

        super().__init__(dim)
        self.index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.device = "cpu"
        self._gpu = None  # (resources, gpu index, id map or None)
        self._lock = threading.Lock()

    def add(self, ids, xb) -> None:
        self.index.add_with_ids(_check(xb, self.dim), np.ascontiguousarray(ids, dtype=np.int64))
        self._gpu = None

    def remove(self, ids) -> int:
        self._gpu = None
        return int(self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))

    def use_gpu(self, device: int = 0) -> None:
        """Search on GPU `device` from now on; raises IndexBackendError when that cannot be done."""
        if not gpu_available():
            raise DeviceUnavailableError("a GPU index was asked for, but FAISS has no GPU support here "
                                    "(install the faiss-gpu extra on a machine with CUDA)")
        self.device = f"cuda:{device}"
        self._gpu_copy()

    def _gpu_copy(self):
        import faiss

        if self._gpu is None:
            inner = faiss.downcast_index(self.index.index) if isinstance(self.index, faiss.IndexIDMap2) else self.index
            id_map = faiss.vector_to_array(self.index.id_map) if inner is not self.index else None
            res = faiss.StandardGpuResources()
            try:
                gpu = faiss.index_cpu_to_gpu(res, int(self.device.split(":")[1]), inner)
            except RuntimeError as e:
                raise IndexBackendError(f"cannot copy the index to the GPU: {str(e).splitlines()[0]}") from e
            self._gpu = (res, gpu, id_map)
        return self._gpu

    def search(self, xq, k, params=None, nprobe: int | None = None):
        xq = _check(xq, self.dim)
        if self.device == "cpu":
            D, I = self.index.search(xq, k, params=params)  # noqa: E741
        else:
            with self._lock:
                _, gpu, id_map = self._gpu_copy()
                if nprobe is not None:
                    gpu.nprobe = int(nprobe)
                D, I = gpu.search(xq, k)  # noqa: E741
            if id_map is not None:
                I = np.where(I >= 0, id_map[np.maximum(I, 0)], -1)  # noqa: E741
        D[I < 0] = -np.inf
        return D, I

    def vectors(self, ids):
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        try:
            self._reconstructable()
        except RuntimeError as e:
            raise IndexBackendError(f"this index cannot give its vectors back: {str(e).splitlines()[0]}") from e
        try:  # one call when every id is held (IndexIDMap2 maps ids to rows)
            return ids, self.index.reconstruct_batch(ids).reshape(len(ids), self.dim)
        except RuntimeError:  # some id is not held (removed): skip those
            pass
        found, rows = [], []
        for i in ids:
            try:
                rows.append(self.index.reconstruct(int(i)))
            except RuntimeError:
                continue
            found.append(i)
        return np.array(found, np.int64), np.array(rows, np.float32).reshape(len(found), self.dim)

    def _reconstructable(self) -> None:
        """Flat codes are read back directly; nothing to prepare."""

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def save(self, directory: Path) -> list[str]:
        import faiss

        faiss.write_index(self.index, str(directory / self.FILE))
        return [self.FILE]

    @classmethod
    def load(cls, directory: Path, dim: int) -> "FaissFlatIndex":
        import faiss

        path = directory / cls.FILE
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as e:
            raise IndexCorruptError(f"{path}: cannot read FAISS index: {str(e).splitlines()[0]}") from e
        if index.d != dim:
            raise IndexCorruptError(f"{path}: dimension {index.d}, expected {dim}")
        return cls(dim, index)


class FaissIVFIndex(FaissFlatIndex):
    """Inverted lists for large catalogs: IVF{nlist} (optionally an HNSW coarse quantizer) with PQ,
    SQ8, fast-scan PQ (PQ32x4fs) or Flat codes, trained on a sample, nprobe settable per query.
    Supports remove_ids.

    `refine=R` re-scores the `R x k` best by their codes with the exact vectors, kept by id (RAW_FILE)
    as float16 (half the memory; scores within about 1e-3) or float32 (`refine_dtype`). FAISS's own IndexRefineFlat would do the same but supports neither add_with_ids nor
    remove_ids, which `assoc index add/remove` need; ids here are keyframe-table rows, so a removed
    id's row is simply never returned again by the inverted lists.
    """

    name = "ivf"
    RAW_FILE = "raw_vectors.npy"

    def __init__(self, dim: int, nlist: int = 1024, codec: str = "PQ32", hnsw_quantizer: bool = False,
                 nprobe: int = 16, ef_search: int = 128, refine: int = 0, refine_dtype: str = "float16", index=None,
                 raw: np.ndarray | None = None):
        import faiss

        self.params = {"nlist": nlist, "codec": codec, "hnsw_quantizer": hnsw_quantizer, "nprobe": nprobe,
                       "ef_search": ef_search, "refine": int(refine), "refine_dtype": refine_dtype}
        if refine_dtype not in ("float16", "float32"):
            raise IndexBackendError(f"refine_dtype must be float16 or float32, not {refine_dtype!r}")
        self.refine = int(refine)
        self._raw = raw if raw is not None else np.zeros((0, dim), refine_dtype)  # row = id
        if index is None:
            spec = f"IVF{nlist}{'_HNSW32' if hnsw_quantizer else ''},{codec}"
            try:
                index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
            except RuntimeError as e:
                raise IndexBackendError(f"cannot build FAISS index '{spec}' for dimension {dim}: "
                                        f"{str(e).splitlines()[0]}") from e
        super().__init__(dim, index)
        self.nprobe = nprobe
        self.ef_search = ef_search
        hnsw = self._hnsw_quantizer()
        if hnsw is not None:  # the lists a vector goes to at add time are found with this beam too
            hnsw.hnsw.efSearch = ef_search

    def _hnsw_quantizer(self):
        """The HNSW coarse quantizer, when there is one: its beam width (efSearch) decides how exactly a
        vector's lists are found; FAISS's default of 16 misassigns many vectors among thousands of lists."""
        import faiss

        ivf = faiss.extract_index_ivf(self.index)
        quantizer = faiss.downcast_index(ivf.quantizer)
        return quantizer if isinstance(quantizer, faiss.IndexHNSW) else None

    @property
    def is_trained(self) -> bool:
        return bool(self.index.is_trained)

    def train(self, sample: np.ndarray) -> None:
        self.index.train(_check(sample, self.dim))

    def add(self, ids, xb) -> None:
        if not self.is_trained:
            raise IndexBackendError("an IVF index must be trained on a sample before vectors are added")
        super().add(ids, xb)
        if self.refine:
            ids = np.asarray(ids, np.int64)
            if len(ids) and ids.min() < 0:
                raise IndexBackendError("a refining IVF index needs non-negative ids (they index its exact vectors)")
            need = int(ids.max()) + 1 if len(ids) else 0
            if need > len(self._raw):  # grow by half again at least, so that chunked adds stay linear
                grown = np.zeros((max(need, len(self._raw) * 3 // 2), self.dim), self._raw.dtype)
                grown[: len(self._raw)] = self._raw
                self._raw = grown
            self._raw[ids] = np.asarray(xb, np.float32)

    def remove(self, ids) -> int:
        removed = super().remove(ids)
        if self.refine and len(self._raw):  # a removed id's exact vector is dropped too (vectors() skips zero rows)
            ids = np.asarray(ids, np.int64)
            self._raw[ids[(ids >= 0) & (ids < len(self._raw))]] = 0
        return removed

    def vectors(self, ids):
        if not self.refine:
            return super().vectors(ids)
        ids = np.asarray(ids, np.int64)
        ids = ids[(ids >= 0) & (ids < len(self._raw))]
        xb = self._raw[ids].astype(np.float32)
        held = np.abs(xb).sum(axis=1) > 0
        return ids[held], xb[held]

    def _reconstructable(self) -> None:
        """Inverted lists find a vector's codes through a direct map (a hash table: remove_ids keeps working)."""
        import faiss

        with self._lock:
            ivf = faiss.extract_index_ivf(self.index)
            if ivf.direct_map.type != faiss.DirectMap.Hashtable:
                ivf.set_direct_map_type(faiss.DirectMap.Hashtable)

    def search(self, xq, k, nprobe: int | None = None):
        import faiss

        n = int(nprobe or self.nprobe)
        wide = k * self.refine if self.refine else k
        if self.device != "cpu":
            D, I = super().search(xq, wide, nprobe=n)  # noqa: E741
        else:
            params = faiss.SearchParametersIVF(nprobe=n)
            if self._hnsw_quantizer() is not None:
                params.quantizer_params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, n))
            D, I = super().search(xq, wide, params=params)  # noqa: E741
        return self._refined(_check(xq, self.dim), D, I, k) if self.refine else (D, I)

    def _refined(self, xq: np.ndarray, D: np.ndarray, I: np.ndarray, k: int):  # noqa: E741
        """The k best of each row's candidates by inner product with their stored vectors."""
        found = I >= 0
        exact = np.einsum("nkd,nd->nk", self._raw[np.maximum(I, 0)].astype(np.float32), xq)
        exact[~found] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        D, I = np.take_along_axis(exact, order, 1), np.take_along_axis(I, order, 1)  # noqa: E741
        I[~np.isfinite(D)] = -1
        return D, I

    def save(self, directory: Path) -> list[str]:
        files = super().save(directory)
        if self.refine:
            np.save(directory / self.RAW_FILE, self._raw)
            files.append(self.RAW_FILE)
        return files

    @classmethod
    def load(cls, directory: Path, dim: int, **params) -> "FaissIVFIndex":
        flat = FaissFlatIndex.load(directory, dim)
        raw = None
        if params.get("refine"):
            path = directory / cls.RAW_FILE
            try:
                raw = np.load(path)
            except (OSError, ValueError) as e:
                raise IndexCorruptError(f"{path}: cannot read the refining index's exact vectors: {e}") from e
            if raw.ndim != 2 or raw.shape[1] != dim:
                raise IndexCorruptError(f"{path}: shape {raw.shape}, expected (n, {dim})")
        return cls(dim, index=flat.index, raw=raw, **params)


VECTOR_BACKENDS: dict[str, type[VectorIndex]] = {"bruteforce": BruteForceIndex, "flat": FaissFlatIndex,
                                                 "ivf": FaissIVFIndex}


def _backend(name: str) -> type[VectorIndex]:
    if name not in VECTOR_BACKENDS:
        raise UnknownBackendError(f"unknown vector index '{name}'; known: {', '.join(VECTOR_BACKENDS)}")
    return VECTOR_BACKENDS[name]


def create_vector_index(name: str, dim: int, **params) -> VectorIndex:
    """A new index by name: "flat" (exact), "ivf" (nlist, codec, hnsw_quantizer, nprobe, ef_search, refine),
    "bruteforce"."""
    return _backend(name)(dim, **params)


def save_vector_index(index: VectorIndex, directory: Path) -> list[str]:
    """Write the index and a config naming its backend and parameters; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    files = index.save(directory)
    config = {"backend": index.name, "dim": index.dim, "params": getattr(index, "params", {})}
    (directory / "vector_index.json").write_text(json.dumps(config))
    return files + ["vector_index.json"]


def load_vector_index(directory: Path) -> VectorIndex:
    try:
        config = json.loads((directory / "vector_index.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise IndexCorruptError(f"{directory}: missing or invalid vector_index.json") from e
    return _backend(config["backend"]).load(directory, int(config["dim"]), **(config.get("params") or {}))
