"""FAISS on the GPU: refused clearly where there is none."""

import numpy as np
import pytest


def test_gpu_is_refused_clearly_where_faiss_has_none(tmp_path):
    from indexes.errors import DeviceUnavailableError
    from indexes.vector import FaissFlatIndex, gpu_available

    if gpu_available():
        pytest.skip("a CUDA device is present: the GPU path runs instead (see the device benchmark script)")
    index = FaissFlatIndex(4)
    index.add(np.arange(3), np.eye(3, 4, dtype=np.float32))
    with pytest.raises(DeviceUnavailableError, match="faiss-gpu"):
        index.use_gpu()
    D, I = index.search(np.eye(1, 4, dtype=np.float32), 2)  # noqa: E741
    assert index.device == "cpu" and I[0, 0] == 0
