"""Tokenising for the embedded backends: CJK as unigrams plus bigrams (as Elasticsearch's `cjk`
analyzer makes bigrams, with unigrams added so one-character names still match), plus the whole run
when it is three characters or more, so that a full name (沈如烟) or title matches as one rare
token instead of as common characters that many titles share; other scripts as words.
Lower-casing, ASCII folding and English stemming happen in the index's own analyzer.

Callers pass text already normalised (NFKC, traditional -> simplified): see assoc.text.normalize.
"""

from __future__ import annotations

import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")


def cjk_grams(run: str) -> list[str]:
    """Unigrams, overlapping bigrams, and the whole run (3+ characters) of one run of CJK characters."""
    return list(run) + [run[i : i + 2] for i in range(len(run) - 1)] + ([run] if len(run) >= 3 else [])


def tokens(text: str) -> list[str]:
    """Query-safe tokens: CJK unigrams and bigrams, and lower-cased words; punctuation dropped."""
    out: list[str] = []
    for m in _RUN.finditer(text):
        run = m.group(0)
        if _IS_CJK.match(run):
            out.extend(cjk_grams(run))
        else:
            out.append(run.lower())
    return out


def analysed(text: str) -> str:
    """The whitespace-joined tokens, ready for a whitespace tokenizer."""
    return " ".join(tokens(text))


UNIGRAM_WEIGHT = 0.3  # a single CJK character is weak evidence: many titles share it
NAMES_BOOST = 2.0  # names are what the uploader called the program


def weighted_groups(names: list[str], text: str, names_boost: float = NAMES_BOOST) -> list[tuple[list[str], float]]:
    """Query token groups and their boosts: names (boosted) and the rest, each split into CJK unigrams
    (down-weighted) and everything else. Distinct tokens within a group, as a query parser keeps them."""
    groups = []
    for part, boost in ((" ".join(names), names_boost), (text, 1.0)):
        toks = list(dict.fromkeys(tokens(part)))
        uni = [t for t in toks if len(t) == 1 and _IS_CJK.match(t)]
        multi = [t for t in toks if t not in uni]
        groups += [(multi, boost), (uni, boost * UNIGRAM_WEIGHT)]
    return [(g, b) for g, b in groups if g]
