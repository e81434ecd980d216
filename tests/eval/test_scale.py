"""The keyframe-index scale benchmark, run tiny: its recall is measured against exact search."""

import numpy as np

from eval.scale import KEYFRAME_TO_SHOT, SHOT_TO_PROGRAM, clustered_keyframes, vector_scale


def test_generated_keyframes_have_the_stated_structure():
    (ids, x), = list(clustered_keyframes(20, 40, 64, seed=0, shots=4))
    assert ids.tolist() == list(range(800)) and np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    same_shot = (x[0:10] @ x[0:10].T)[np.triu_indices(10, 1)].mean()  # keyframes 0-9: shot 0 of program 0
    other_program = (x[0:10] @ x[400:410].T).mean()
    assert abs(same_shot - KEYFRAME_TO_SHOT**2) < 0.05 and abs(other_program) < 0.1
    assert same_shot > SHOT_TO_PROGRAM**2


def test_probing_every_list_of_flat_codes_is_exact():
    r = vector_scale(n_programs=40, per_program=20, dim=32, nlist=8, codec="Flat", nprobes=(1, 8), clips=3,
                     frames_per_clip=4, train_size=800)
    assert r["vectors"] == 800 and r["index"] == "IVF8,Flat"
    by_nprobe = {run["nprobe"]: run for run in r["runs"]}
    assert by_nprobe[8]["recall@10_vs_exact"] == 1.0 and by_nprobe[1]["recall@10_vs_exact"] <= 1.0


def test_refining_coarse_codes_with_exact_vectors_recovers_recall():
    r = vector_scale(n_programs=40, per_program=20, dim=32, nlist=8, codec="PQ4x4fs", nprobes=(8,), clips=3,
                     frames_per_clip=4, train_size=800, refines=(0, 20))
    by_refine = {run["refine"]: run["recall@10_vs_exact"] for run in r["runs"]}
    assert r["index"] == "IVF8,PQ4x4fs + exact float16 re-scoring of refine x k"
    assert by_refine[20] >= 0.95 and by_refine[20] > by_refine[0], by_refine
