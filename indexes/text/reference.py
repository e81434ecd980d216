"""A brute-force BM25 reference (Lucene/tantivy scoring, in Python) for the conformance tests."""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable

import snowballstemmer

from indexes.text.analysis import tokens, weighted_groups
from indexes.text.base import FIELD_BOOSTS, TEXT_FIELDS, DocFailure, TextDoc, TextHit, TextIndex, TextQuery

K1, B = 1.2, 0.75
_stem = snowballstemmer.stemmer("english").stemWord


def analyse(text: str) -> list[str]:
    return [_stem(t) if t.isascii() else t for t in tokens(text)]


class BruteForceTextIndex(TextIndex):
    name = "bruteforce"

    def __init__(self):
        self.docs: dict[str, dict[str, Counter]] = {}

    def add(self, docs: Iterable[TextDoc]) -> list[DocFailure]:
        for d in docs:
            self.docs[d.program_id] = {f: Counter(analyse(d.field_text(f))) for f in TEXT_FIELDS}
        return []

    def remove(self, program_ids: Iterable[str]) -> int:
        ids = [p for p in program_ids if p in self.docs]
        for p in ids:
            del self.docs[p]
        return len(ids)

    def search(self, query: TextQuery, k: int = 10) -> list[TextHit]:
        # like the tantivy query: boosted groups of distinct terms (names x2, CJK unigrams x0.3)
        weights: Counter = Counter()
        for group, boost in weighted_groups(query.names, query.text):
            for t in {_stem(t) if t.isascii() else t for t in group}:
                weights[t] += boost
        terms = list(weights)
        if not terms or not self.docs:
            return []
        n_docs = len(self.docs)
        scores: dict[str, float] = {}
        for f in TEXT_FIELDS:
            lengths = {p: sum(d[f].values()) for p, d in self.docs.items()}
            avg = sum(lengths.values()) / n_docs or 1.0
            for term in terms:
                df = sum(1 for d in self.docs.values() if term in d[f])
                if not df:
                    continue
                idf = math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
                for p, d in self.docs.items():
                    tf = d[f].get(term, 0)
                    if tf:
                        norm = tf + K1 * (1 - B + B * lengths[p] / avg)
                        scores[p] = scores.get(p, 0.0) + weights[term] * FIELD_BOOSTS[f] * idf * tf * (K1 + 1) / norm
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [TextHit(p, s, i) for i, (p, s) in enumerate(ranked, 1)]

    def count(self) -> int:
        return len(self.docs)
