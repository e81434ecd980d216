"""The TextIndex interface shared by every text backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

TEXT_FIELDS = ("title", "aliases", "characters", "cast", "description")
# title and aliases highest, characters and cast next, description lowest
FIELD_BOOSTS = {"title": 4.0, "aliases": 4.0, "characters": 2.0, "cast": 2.0, "description": 0.5}


@dataclass
class TextDoc:
    """One program's searchable text, already normalised (simplified characters, NFKC)."""

    program_id: str
    title: str
    aliases: list[str] = field(default_factory=list)
    characters: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    description: str = ""
    year: int | None = None
    category: list[str] = field(default_factory=list)

    def field_text(self, name: str) -> str:
        value = getattr(self, name)
        return " ; ".join(value) if isinstance(value, list) else value


@dataclass
class TextQuery:
    """A fielded query: `names` are what the uploader called the program (title, alias, character
    or actor), `text` the rest of the cleaned title and description."""

    names: list[str] = field(default_factory=list)
    text: str = ""

    def is_empty(self) -> bool:
        return not self.text.strip() and not any(n.strip() for n in self.names)


@dataclass
class TextHit:
    program_id: str
    score: float
    rank: int


@dataclass
class DocFailure:
    program_id: str
    reason: str


class TextIndex(ABC):
    name: str = ""

    @abstractmethod
    def add(self, docs: Iterable[TextDoc]) -> list[DocFailure]:
        """Index documents (replacing any with the same program_id); return the ones that failed."""

    @abstractmethod
    def remove(self, program_ids: Iterable[str]) -> int: ...

    @abstractmethod
    def search(self, query: TextQuery, k: int = 10) -> list[TextHit]: ...

    @abstractmethod
    def count(self) -> int: ...

    def save(self, directory: Path) -> dict:
        """Persist into `directory` (embedded backends) and return the settings to record."""
        return {"backend": self.name}
