"""The three-level category taxonomy (data/taxonomy.yaml): loading and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assoc.errors import TaxonomyError

DEFAULT_TAXONOMY = Path(__file__).resolve().parent.parent / "data" / "taxonomy.yaml"
LEVELS = 3


@dataclass(frozen=True)
class Node:
    zh: str
    en: str
    level: int  # 1, 2 or 3
    path: tuple[str, ...]
    children: tuple["Node", ...] = field(default=())


@dataclass(frozen=True)
class Taxonomy:
    roots: tuple[Node, ...]

    def nodes(self, level: int) -> list[Node]:
        """Every node at one level (1 = top), in file order."""
        out: list[Node] = []
        stack = list(reversed(self.roots))
        while stack:
            n = stack.pop()
            if n.level == level:
                out.append(n)
            elif n.level < level:
                stack.extend(reversed(n.children))
        return out

    def leaves(self) -> list[Node]:
        return self.nodes(LEVELS)

    def leaf_paths(self) -> list[tuple[str, str, str]]:
        return [n.path for n in self.leaves()]  # type: ignore[misc]

    def english(self, path: tuple[str, ...] | list[str]) -> list[str]:
        """The English names along a path."""
        out, level = [], list(self.roots)
        for name in path:
            node = next((n for n in level if n.zh == name), None)
            if node is None:
                raise TaxonomyError(f"category {list(path)} is not in the taxonomy")
            out.append(node.en)
            level = list(node.children)
        return out

    def validate_path(self, path: list[str] | tuple[str, ...]) -> None:
        """Raise TaxonomyError unless path is a full three-level path of this taxonomy."""
        if len(path) != LEVELS:
            raise TaxonomyError(f"category {list(path)} must have {LEVELS} levels")
        self.english(path)


def _parse(raw: object, level: int, parent: tuple[str, ...], where: str) -> Node:
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: expected a mapping with zh, en and children")
    zh, en = raw.get("zh"), raw.get("en")
    if not isinstance(zh, str) or not zh or not isinstance(en, str) or not en:
        raise TaxonomyError(f"{where}: every category needs non-empty 'zh' and 'en' names")
    path = parent + (zh,)
    kids = raw.get("children") or []
    if level < LEVELS and not kids:
        raise TaxonomyError(f"{where} ({zh}): a level-{level} category needs children")
    if level == LEVELS and kids:
        raise TaxonomyError(f"{where} ({zh}): level {LEVELS} categories are leaves")
    children = tuple(
        _parse(k, level + 1, path, f"{where}/{zh}[{i}]") for i, k in enumerate(kids)
    )
    names = [c.zh for c in children]
    if len(set(names)) != len(names):
        raise TaxonomyError(f"{where} ({zh}): duplicate child names")
    return Node(zh=zh, en=en, level=level, path=path, children=children)


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Load and validate a taxonomy file; raise TaxonomyError naming the bad node."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TaxonomyError(f"{path}: cannot read: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise TaxonomyError(f"{path}: invalid YAML: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise TaxonomyError(f"{path}: expected a top-level 'categories' list")
    roots = tuple(
        _parse(r, 1, (), f"{path}:categories[{i}]") for i, r in enumerate(data["categories"])
    )
    if len({r.zh for r in roots}) != len(roots):
        raise TaxonomyError(f"{path}: duplicate top-level names")
    leaves = [n.zh for n in Taxonomy(roots).leaves()]
    if len(set(leaves)) != len(leaves):
        raise TaxonomyError(f"{path}: leaf names must be unique")
    return Taxonomy(roots)
