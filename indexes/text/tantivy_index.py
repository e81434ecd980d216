"""The embedded default: a tantivy index stored inside the index directory.

CJK text is pre-tokenised in Python (unigrams + bigrams, see analysis.py) and indexed through a
custom analyzer (whitespace -> lowercase -> ASCII folding -> English stemming). tantivy keeps no
record of custom analyzers, so every open registers it again before any search or write.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import tantivy

from indexes.errors import IndexCorruptError
from indexes.text.analysis import analysed, weighted_groups
from indexes.text.base import FIELD_BOOSTS, TEXT_FIELDS, DocFailure, TextDoc, TextHit, TextIndex, TextQuery

ANALYZER = "assoc_text"
WRITER_HEAP = 64_000_000


def _analyzer() -> "tantivy.TextAnalyzer":
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace())
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.ascii_fold())
            .filter(tantivy.Filter.stemmer("english"))
            .build())


def _schema() -> "tantivy.Schema":
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("program_id", stored=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        sb.add_text_field(name, stored=name == "title", tokenizer_name=ANALYZER)
    sb.add_integer_field("year", stored=True)
    sb.add_text_field("category", stored=True, tokenizer_name="raw")
    return sb.build()




def query_string(query: TextQuery) -> str:
    """Tokens only (analysis drops all query syntax), in boosted groups: names are what the uploader
    called the program (x2); CJK unigrams are weak evidence (x0.3)."""
    return " ".join(f"({' '.join(g)})^{b:g}" for g, b in weighted_groups(query.names, query.text))


class TantivyTextIndex(TextIndex):
    name = "tantivy"

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            exists = tantivy.Index.exists(str(self.directory))
            try:
                self.index = tantivy.Index(_schema(), path=str(self.directory), reuse=exists)
            except ValueError as e:
                raise IndexCorruptError(f"{self.directory}: cannot open tantivy index: {e}") from e
        else:
            self.index = tantivy.Index(_schema())
        self.index.register_tokenizer(ANALYZER, _analyzer())

    @classmethod
    def open(cls, directory: str | Path) -> "TantivyTextIndex":
        if not tantivy.Index.exists(str(directory)):
            raise IndexCorruptError(f"{directory}: no tantivy index here")
        return cls(directory)

    def add(self, docs: Iterable[TextDoc]) -> list[DocFailure]:
        failures = []
        writer = self.index.writer(WRITER_HEAP, 1)
        for d in docs:
            try:
                doc = tantivy.Document()
                doc.add_text("program_id", d.program_id)
                for name in TEXT_FIELDS:
                    doc.add_text(name, analysed(d.field_text(name)))
                if d.year is not None:
                    doc.add_integer("year", int(d.year))
                doc.add_text("category", "/".join(d.category))
                writer.delete_documents_by_term("program_id", d.program_id)
                writer.add_document(doc)
            except (ValueError, TypeError) as e:
                failures.append(DocFailure(d.program_id, str(e)))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        return failures

    def remove(self, program_ids: Iterable[str]) -> int:
        before = self.count()
        writer = self.index.writer(WRITER_HEAP, 1)
        for pid in program_ids:
            writer.delete_documents_by_term("program_id", pid)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        return before - self.count()

    def search(self, query: TextQuery, k: int = 10) -> list[TextHit]:
        text = query_string(query)
        if not text:
            return []
        parsed, _errors = self.index.parse_query_lenient(text, list(TEXT_FIELDS), field_boosts=FIELD_BOOSTS)
        searcher = self.index.searcher()
        hits = []
        for rank, (score, address) in enumerate(searcher.search(parsed, k).hits, 1):
            if math.isfinite(score) and score > 0:
                hits.append(TextHit(searcher.doc(address)["program_id"][0], float(score), rank))
        return hits

    def count(self) -> int:
        return int(self.index.searcher().num_docs)

    def save(self, directory: Path) -> dict:
        if self.directory is None or self.directory.resolve() != Path(directory).resolve():
            raise IndexCorruptError("a tantivy index is written in place: create it in its target directory")
        return {"backend": self.name, "analyzer": "cjk unigram+bigram; whitespace, lowercase, ascii_fold, stemmer(english)",
                "field_boosts": FIELD_BOOSTS}
