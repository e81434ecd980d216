"""The text signal: BM25 (tantivy or Elasticsearch), fuzzy titles and semantic similarity, fused by RRF."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assoc.schema import Program
from assoc.text.entities import EntityMatcher
from assoc.text.normalize import compact, normalize
from assoc.text.query import ParsedTitle, parse_title
from assoc.text.semantic import SemanticModel, program_text
from indexes.fuzzy import FuzzyTitleMatcher
from indexes.text import TextDoc, TextIndex, create_text_index, open_text_index

TEXT_DIR = "text"
TANTIVY_DIR = "text/tantivy"
SEMANTIC_FILE = "text/semantic.npy"
SEMANTIC_IDS = "text/semantic_ids.json"


# How the text sub-signals combine, set by hand (not fitted): BM25 relative to the query's best hit,
# fuzzy title similarity, an exact character or cast name, and semantic cosine as a tie-breaker
# (all-MiniLM-L6-v2 is an English model and weak on Chinese). Rank fusion would ignore how far ahead
# BM25's best hit is. The score is the weighted mean, in [0, 1].
WEIGHTS = {"bm25": 0.5, "fuzzy": 0.4, "entity": 0.5, "semantic": 0.1}
# BM25 is read this deep whatever k is, so that a program found by its fuzzy title or an exact name
# also gets its BM25 score (a typo'd English title still shares most of its words with the program).
BM25_DEPTH = 50


def fuzzy_strength(score: float) -> float:
    """A 0-100 fuzzy score as evidence in [0, 1]: 50 or less (half the characters) says nothing."""
    return (max(0.0, score - 50.0) / 50.0) ** 2


@dataclass
class TextCandidate:
    program_id: str
    score: float  # WEIGHTS-weighted mean of the normalised sub-signal scores, in [0, 1]
    bm25: float | None = None
    bm25_rank: int | None = None
    fuzzy: float | None = None
    fuzzy_field: str | None = None
    semantic: float | None = None
    entity: str | None = None  # "characters" or "cast": the text names one of the program's people exactly
    entity_share: int | None = None  # how many programs have that name


def text_doc(p: Program) -> TextDoc:
    title = normalize(p.title)
    # an alias that normalises to the title (a traditional spelling) or to another alias would count twice
    aliases = [a for a in dict.fromkeys(normalize(a) for a in p.aliases) if a.lower() != title.lower()]
    return TextDoc(program_id=p.program_id, title=title, aliases=aliases,
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
        self.entities = EntityMatcher(programs)
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

        names = ([compact(n) for n in parsed.names] or [compact(parsed.text)]) + [compact(v) for v in parsed.variants]
        query_text = " ".join(parsed.names + [parsed.text])
        entities = self.entities.search(query_text)
        people = {e.name.replace(" ", "") for e in entities}
        for h in self.fuzzy.search(names, k):
            if h.matched != h.query and h.query in people:
                continue  # a person's name inside a longer title is not that title (exact titles still count)
            c = cand(h.program_id)
            c.fuzzy, c.fuzzy_field = h.score, h.field
            c.score += WEIGHTS["fuzzy"] * fuzzy_strength(h.score)
        for e in entities[:max(k, BM25_DEPTH)]:
            c = cand(e.program_id)
            c.entity, c.entity_share = e.field, e.share
            c.score += WEIGHTS["entity"]
        bm25 = self.index.search(query, max(k, BM25_DEPTH))
        top_bm25 = max((h.score for h in bm25), default=0.0)
        for h in bm25:
            # past the top k, BM25 only scores programs another sub-signal found
            if h.rank <= k or h.program_id in found:
                c = cand(h.program_id)
                c.bm25, c.bm25_rank = h.score, h.rank
                c.score += WEIGHTS["bm25"] * h.score / top_bm25
        if self.semantic is not None and found:
            # semantic similarity re-weighs the lexical candidates; alone it would only add noise
            q = self.semantic.encode([query_text])[0]
            for c in found.values():
                c.semantic = float(self.vectors[self.vector_row[c.program_id]] @ q)
                c.score += WEIGHTS["semantic"] * max(0.0, c.semantic)
        total = sum(WEIGHTS.values())
        for c in found.values():
            c.score /= total
        return sorted(found.values(), key=lambda c: (-c.score, c.program_id))[:k]
