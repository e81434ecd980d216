"""The text signal: BM25 (tantivy or Elasticsearch), fuzzy titles and semantic similarity, fused by RRF."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assoc.schema import Program
from assoc.text.normalize import compact, normalize
from assoc.text.query import ParsedTitle, parse_title
from assoc.text.semantic import SemanticModel, program_text
from indexes.fuzzy import FuzzyTitleMatcher
from indexes.text import TextDoc, TextIndex, create_text_index, open_text_index

TEXT_DIR = "text"
TANTIVY_DIR = "text/tantivy"
SEMANTIC_FILE = "text/semantic.npy"
SEMANTIC_IDS = "text/semantic_ids.json"


# How the three text sub-signals combine, set by hand (not fitted): BM25 relative to the query's best
# hit, fuzzy title similarity, and semantic cosine as a tie-breaker (all-MiniLM-L6-v2 is an English
# model and weak on Chinese). Rank fusion would ignore how far ahead BM25's best hit is.
WEIGHTS = {"bm25": 0.5, "fuzzy": 0.4, "semantic": 0.1}


@dataclass
class TextCandidate:
    program_id: str
    score: float  # WEIGHTS-weighted sum of the normalised sub-signal scores, in [0, 1]
    bm25: float | None = None
    bm25_rank: int | None = None
    fuzzy: float | None = None
    fuzzy_field: str | None = None
    semantic: float | None = None


def text_doc(p: Program) -> TextDoc:
    return TextDoc(program_id=p.program_id, title=normalize(p.title), aliases=[normalize(a) for a in p.aliases],
                   characters=[normalize(c) for c in p.characters], cast=[normalize(c) for c in p.cast],
                   description=normalize(p.description), year=p.year, category=list(p.category))


def fuzzy_matcher(programs: list[Program]) -> FuzzyTitleMatcher:
    return FuzzyTitleMatcher([p.program_id for p in programs], [compact(p.title) for p in programs],
                             [[compact(a) for a in p.aliases] for p in programs])


def build_text(programs: list[Program], root: Path, backend: str, es: dict | None,
               semantic_model: str | None, semantic: bool = True) -> tuple[dict, list, TextIndex]:
    """Index program text under root/text (tantivy) or on the server (elasticsearch); embed program text."""
    directory = root / TANTIVY_DIR if backend == "tantivy" else None
    index = create_text_index(backend, directory, **(es or {}))
    failures = index.add(text_doc(p) for p in programs)
    config = index.save(directory) if directory else index.save(None)
    section = {"text_index": config, "fuzzy": {"scorer": "WRatio", "processor": "assoc.text.normalize.compact"}}
    if semantic:
        model = SemanticModel(semantic_model)
        vectors = model.encode([program_text(p.title, p.aliases, p.characters, p.cast, p.description) for p in programs])
        (root / TEXT_DIR).mkdir(parents=True, exist_ok=True)
        np.save(root / SEMANTIC_FILE, vectors)
        (root / SEMANTIC_IDS).write_text(json.dumps([p.program_id for p in programs]))
        section["semantic"] = model.describe()
    return section, failures, index


class TextSignal:
    def __init__(self, root: Path, section: dict, programs: list[Program], es: dict | None = None,
                 semantic_model: str | None = None):
        self.index = open_text_index(section["text_index"], root / TANTIVY_DIR, **(es or {}))
        self.fuzzy = fuzzy_matcher(programs)
        self.semantic = None
        if "semantic" in section:
            self.semantic = SemanticModel(semantic_model or section["semantic"]["model"])
            self.vectors = np.load(root / SEMANTIC_FILE)
            self.vector_row = {pid: i for i, pid in enumerate(json.loads((root / SEMANTIC_IDS).read_text()))}

    def candidates(self, title: str, description: str = "", k: int = 10,
                   parsed: ParsedTitle | None = None) -> list[TextCandidate]:
        parsed = parsed or parse_title(title, description)
        query = parsed.to_query()
        if query.is_empty():
            return []
        found: dict[str, TextCandidate] = {}

        def cand(pid: str) -> TextCandidate:
            return found.setdefault(pid, TextCandidate(pid, 0.0))

        hits = self.index.search(query, k)
        top_bm25 = max((h.score for h in hits), default=0.0)
        for h in hits:
            c = cand(h.program_id)
            c.bm25, c.bm25_rank = h.score, h.rank
            c.score += WEIGHTS["bm25"] * h.score / top_bm25
        names = [compact(n) for n in parsed.names] or [compact(parsed.text)]
        for h in self.fuzzy.search(names, k):
            c = cand(h.program_id)
            c.fuzzy, c.fuzzy_field = h.score, h.field
            c.score += WEIGHTS["fuzzy"] * h.score / 100.0
        if self.semantic is not None and found:
            # semantic similarity re-weighs the lexical candidates; alone it would only add noise
            q = self.semantic.encode([" ".join(parsed.names + [parsed.text])])[0]
            for c in found.values():
                c.semantic = float(self.vectors[self.vector_row[c.program_id]] @ q)
                c.score += WEIGHTS["semantic"] * max(0.0, c.semantic)
        return sorted(found.values(), key=lambda c: (-c.score, c.program_id))[:k]
