"""Text indexes over program metadata: tantivy (embedded default), Elasticsearch, and a BM25 reference."""

from indexes.text.base import FIELD_BOOSTS, TEXT_FIELDS, TextDoc, TextHit, TextIndex, TextQuery
from indexes.text.registry import create_text_index, list_text_backends, open_text_index

__all__ = ["TEXT_FIELDS", "FIELD_BOOSTS", "TextDoc", "TextHit", "TextIndex", "TextQuery",
           "create_text_index", "list_text_backends", "open_text_index"]
