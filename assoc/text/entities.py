"""Exact names of characters and cast in a clip's text: a dictionary lookup, not a ranking.

A title that only names a character ("叶诺 必看") or an actor gives BM25 little to work with: the
two characters of the name also occur, as unigrams, in titles, whose boost is highest. The names
themselves are exact strings in the catalog, so a dictionary finds every program that has them.
Chinese names are found as substrings of the unspaced text (titles are not segmented); Latin names
as whole word sequences, so "ann" never matches inside "annabelle".
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from assoc.schema import Program
from assoc.text.normalize import normalize

FIELDS = ("characters", "cast")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class EntityHit:
    program_id: str
    field: str  # "characters" or "cast"
    name: str  # the normalised name found
    share: int  # how many programs have this name in this field (1: the name alone identifies the program)


def _key(name: str) -> tuple[str, bool] | None:
    """(lookup key, is Chinese) for a name, or None when too short to identify anything."""
    text = normalize(name).lower()
    if _CJK.search(text):
        key = "".join(ch for ch in text if ch.isalnum())
        return (key, True) if len(key) >= 2 else None
    words = _WORD.findall(text)
    key = " ".join(words)
    return (key, False) if len(key.replace(" ", "")) >= 3 else None


class EntityMatcher:
    def __init__(self, programs: list[Program], max_words: int = 4):
        self.owners: dict[tuple[str, str], set[str]] = defaultdict(set)  # (field, key) -> program ids
        self.cjk_lengths: set[int] = set()
        self.max_words = max_words
        for p in programs:
            for fld in FIELDS:
                for name in getattr(p, fld):
                    found = _key(name)
                    if found is None:
                        continue
                    key, cjk = found
                    self.owners[(fld, key)].add(p.program_id)
                    if cjk:
                        self.cjk_lengths.add(len(key))

    def keys_in(self, text: str) -> set[str]:
        """Every dictionary key that could occur in `text`: CJK substrings and Latin word n-grams."""
        text = normalize(text).lower()
        keys: set[str] = set()
        for run in re.findall(r"[\u3400-\u9fff0-9a-z]+", text):
            if not _CJK.search(run):
                continue
            for n in self.cjk_lengths:
                keys.update(run[i:i + n] for i in range(len(run) - n + 1))
        words = _WORD.findall(text)
        for n in range(1, self.max_words + 1):
            keys.update(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        return keys

    def search(self, text: str) -> list[EntityHit]:
        """Programs whose characters or cast are named in `text`, most specific names first."""
        hits: dict[str, EntityHit] = {}
        for key in self.keys_in(text):
            for fld in FIELDS:
                owners = self.owners.get((fld, key))
                for pid in owners or ():
                    hit = EntityHit(pid, fld, key, len(owners))
                    old = hits.get(pid)
                    if old is None or (hit.share, hit.field) < (old.share, old.field):
                        hits[pid] = hit
        return sorted(hits.values(), key=lambda h: (h.share, h.field, h.program_id))
