"""Streaming JSONL reading and atomic JSONL writing, with errors that name line and field."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Type, TypeVar

from pydantic import BaseModel, ValidationError

from assoc.errors import InputError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class LineError:
    """One rejected line: where it is and why."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def _describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(line)"
        parts.append(f"field '{field}': {e['msg']}")
    return "; ".join(parts)


def iter_jsonl(path: str | Path, model: Type[M]) -> Iterator[tuple[int, M | LineError]]:
    """Yield (line number, parsed model or LineError) per non-blank line, streaming."""
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}") from e
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                yield lineno, LineError(str(path), lineno, f"invalid JSON: {e.msg} at column {e.colno}")
                continue
            if not isinstance(obj, dict):
                yield lineno, LineError(str(path), lineno, "expected a JSON object")
                continue
            try:
                item: M | LineError = model.model_validate(obj)
            except ValidationError as e:
                item = LineError(str(path), lineno, _describe(e))
            yield lineno, item


def read_jsonl(path: str | Path, model: Type[M]) -> tuple[list[M], list[LineError]]:
    """Read every line; return the valid items and the rejected lines."""
    items: list[M] = []
    errors: list[LineError] = []
    for _, item in iter_jsonl(path, model):
        (errors if isinstance(item, LineError) else items).append(item)
    return items, errors


def read_jsonl_strict(path: str | Path, model: Type[M]) -> list[M]:
    """Read every line, raising InputError listing every rejected line."""
    items, errors = read_jsonl(path, model)
    if errors:
        raise InputError(f"{len(errors)} invalid line(s):\n" + "\n".join(map(str, errors)))
    return items


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file through a temporary sibling and os.replace, so readers never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, items: Iterable[BaseModel | dict]) -> int:
    """Write models or dicts as JSONL, atomically; return the number of lines."""
    lines = []
    for it in items:
        data = it.model_dump(mode="json") if isinstance(it, BaseModel) else it
        lines.append(json.dumps(data, ensure_ascii=False))
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)
