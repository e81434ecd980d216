"""Text backends by name; an unknown name lists the known ones."""

from __future__ import annotations

from pathlib import Path

from indexes.errors import IndexBackendError, UnknownBackendError
from indexes.text.base import TextIndex

TEXT_BACKENDS = ("tantivy", "elasticsearch", "bruteforce")


def list_text_backends() -> list[str]:
    return list(TEXT_BACKENDS)


def create_text_index(name: str, directory: str | Path | None = None, **settings) -> TextIndex:
    """A new, empty text index. tantivy writes into `directory`; elasticsearch takes connection settings."""
    if name == "tantivy":
        from indexes.text.tantivy_index import TantivyTextIndex

        return TantivyTextIndex(directory)
    if name == "elasticsearch":
        from indexes.text.elasticsearch_index import ElasticsearchTextIndex

        return ElasticsearchTextIndex.create(**settings)
    if name == "bruteforce":
        from indexes.text.reference import BruteForceTextIndex

        return BruteForceTextIndex()
    raise UnknownBackendError(f"unknown text backend '{name}'; known: {', '.join(TEXT_BACKENDS)}")


def open_text_index(config: dict, directory: str | Path | None = None, **settings) -> TextIndex:
    """Reopen a text index from the settings its index manifest recorded."""
    name = config.get("backend")
    if name == "tantivy":
        from indexes.text.tantivy_index import TantivyTextIndex

        return TantivyTextIndex.open(directory)
    if name == "elasticsearch":
        from indexes.text.elasticsearch_index import ElasticsearchTextIndex

        if not settings:
            raise IndexBackendError("this index's text lives in Elasticsearch: set ASSOC_ES_URL to reach it")
        return ElasticsearchTextIndex.connect(alias=config["alias"], **settings)
    raise UnknownBackendError(f"unknown text backend '{name}'; known: {', '.join(TEXT_BACKENDS)}")
