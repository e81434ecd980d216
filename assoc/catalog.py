"""Reading a catalog (catalog.jsonl) and a queries file (clips.jsonl) with their paths resolved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assoc.errors import InputError, TaxonomyError
from assoc.jsonl import LineError, iter_jsonl, read_jsonl
from assoc.schema import Clip, Program
from assoc.taxonomy import Taxonomy


@dataclass
class Catalog:
    path: Path
    programs: list[Program]
    errors: list[LineError]

    @property
    def root(self) -> Path:
        return self.path.parent

    def video_path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def by_id(self) -> dict[str, Program]:
        return {p.program_id: p for p in self.programs}


def load_catalog(path: str | Path, taxonomy: Taxonomy | None = None) -> Catalog:
    """Read every line; bad lines (schema, duplicate id, unknown category) go to `errors`."""
    path = Path(path)
    programs: list[Program] = []
    errors: list[LineError] = []
    seen: set[str] = set()
    for lineno, item in iter_jsonl(path, Program):
        if isinstance(item, LineError):
            errors.append(item)
            continue
        reason = None
        if item.program_id in seen:
            reason = f"duplicate program_id '{item.program_id}'"
        elif taxonomy is not None:
            try:
                taxonomy.validate_path(item.category)
            except TaxonomyError as e:
                reason = f"field 'category': {e}"
        if reason:
            errors.append(LineError(str(path), lineno, reason))
            continue
        seen.add(item.program_id)
        programs.append(item)
    return Catalog(path=path, programs=programs, errors=errors)


def load_queries(path: str | Path) -> tuple[list[Clip], list[LineError]]:
    """Read a clips.jsonl file; returns the clips and the rejected lines."""
    return read_jsonl(path, Clip)


def clip_video_path(queries_path: str | Path, clip: Clip) -> Path:
    """A clip's video: absolute as given, else relative to the queries file's folder or its parent.

    The parent is tried because a universe lays out `clips/test.jsonl` with videos named
    `clips/test/c1.mp4`, relative to the universe root, as in design.md's example.
    """
    video = Path(clip.video)
    if video.is_absolute():
        return video
    base = Path(queries_path).resolve().parent
    for root in (base, base.parent):
        if (root / video).exists():
            return root / video
    return base / video


def require_no_errors(errors: list[LineError], what: str) -> None:
    if errors:
        raise InputError(
            f"{what}: {len(errors)} line(s) rejected:\n" + "\n".join(str(e) for e in errors)
        )
