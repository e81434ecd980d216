"""Fuzzy title matching with rapidfuzz over every title and alias, vectorised with process.cdist.

Strings are compared as given: callers normalise them first (assoc.text.normalize.compact: simplified
characters, lower-case, alphanumerics only), so `processor=None` is passed on purpose. WRatio fits
unspaced Chinese: on strings without spaces its token scorers reduce to character-level ratios,
and its partial alignment scores a short name inside a long title.

A title or alias shorter than the name is scored by plain `ratio`, not WRatio: WRatio's partial
alignment would give a two-character short name like 风暴 90 inside any longer name that contains
it (冠军风暴 typed as 冠运风暴), but the name saying more than the alias is evidence against it. A name
shorter than the title keeps WRatio's partial credit: uploaders write part of a title.

WRatio over every title and alias of 60,000 programs costs about 170 ms a name, so a character
inverted index first keeps the choices that share at least half of a name's distinct characters
(a typo or a partial title still does); cdist then scores only those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process


@dataclass
class FuzzyHit:
    program_id: str
    score: float  # 0-100
    field: str  # "title" or "alias"
    matched: str  # the title or alias it matched
    query: str = ""  # the name that matched it


def score_choices(name: str, choices: list[str], workers: int = 1) -> np.ndarray:
    """0-100 per choice: WRatio where the choice is at least as long as the name, ratio where it is shorter."""
    out = np.zeros(len(choices), np.float32)
    shorter = np.fromiter((len(c) < len(name) for c in choices), bool, len(choices))
    for scorer, rows in ((fuzz.ratio, np.flatnonzero(shorter)), (fuzz.WRatio, np.flatnonzero(~shorter))):
        if len(rows):  # each choice is scored once, by its own rule
            out[rows] = process.cdist([name], [choices[i] for i in rows], scorer=scorer, processor=None,
                                      dtype=np.float32, workers=workers)[0]
    return out


class FuzzyTitleMatcher:
    def __init__(self, program_ids: list[str], titles: list[str], aliases: list[list[str]], min_length: int = 2):
        """titles[i] and aliases[i] belong to program_ids[i]; all already normalised."""
        self.program_ids = program_ids
        choices, owner, fields = [], [], []
        for i, (t, al) in enumerate(zip(titles, aliases)):
            for text, fld in [(t, "title")] + [(a, "alias") for a in al]:
                if len(text) >= min_length:
                    choices.append(text)
                    owner.append(i)
                    fields.append(fld)
        self.choices = choices
        self.owner = np.array(owner, np.int64)
        self.fields = fields
        self.min_length = min_length
        # character inverted index: (code point, choice) pairs sorted by code point
        pairs = [(ord(c), i) for i, text in enumerate(choices) for c in set(text)]
        arr = np.array(pairs, np.int64).reshape(-1, 2)
        order = np.argsort(arr[:, 0], kind="stable")
        self._chars, self._choice_of = arr[order, 0], arr[order, 1]
        self._distinct = np.array([len(set(t)) for t in choices], np.int64)

    def candidates(self, name: str, min_share: float = 0.5) -> np.ndarray:
        """Choices sharing at least `min_share` of the name's distinct characters (or all of their own,
        for a choice shorter than that: a short alias inside a long name)."""
        codes = np.array(sorted({ord(c) for c in name}), np.int64)
        lo = np.searchsorted(self._chars, codes, "left")
        hi = np.searchsorted(self._chars, codes, "right")
        if not len(codes) or (hi - lo).sum() == 0:
            return np.zeros(0, np.int64)
        hits = np.concatenate([self._choice_of[a:b] for a, b in zip(lo, hi)])
        counts = np.bincount(hits, minlength=len(self.choices))
        need = np.minimum(max(1, int(np.ceil(min_share * len(codes)))), self._distinct)
        return np.flatnonzero((counts >= need) & (counts > 0))

    def search(self, names: list[str], k: int = 10, workers: int = 1) -> list[FuzzyHit]:
        names = [n for n in names if len(n) >= self.min_length]
        if not names or not self.choices:
            return []
        best = np.zeros(len(self.choices), np.float32)  # per choice, its best score over the names
        best_name = np.zeros(len(self.choices), np.int64)  # and the name that gave it
        for n, name in enumerate(names):
            cand = self.candidates(name)
            if len(cand):
                scores = score_choices(name, [self.choices[c] for c in cand], workers)
                better = scores > best[cand]  # candidates are distinct, so plain indexing is safe
                best[cand[better]] = scores[better]
                best_name[cand[better]] = n
        per_program = np.zeros(len(self.program_ids), np.float32)
        np.maximum.at(per_program, self.owner, best)
        top = np.argsort(-per_program, kind="stable")[:k]
        hits = []
        for p in top:
            if per_program[p] <= 0:
                break
            mine = np.flatnonzero(self.owner == p)
            c = int(mine[np.argmax(best[mine])])
            hits.append(FuzzyHit(self.program_ids[p], float(per_program[p]), self.fields[c], self.choices[c],
                                 names[best_name[c]]))
        return hits
