"""Reciprocal rank fusion (k = 60): the untrained way to unite ranked lists, and our baseline."""

from __future__ import annotations

RRF_K = 60


def rrf(lists: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists; the score is normalised so that rank 1 in every list gives 1.0."""
    if not lists:
        return []
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, pid in enumerate(ranked, 1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    best = len(lists) / (k + 1)
    return sorted(((p, s / best) for p, s in scores.items()), key=lambda kv: (-kv[1], kv[0]))
