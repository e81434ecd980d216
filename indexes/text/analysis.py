"""Tokenising for the embedded backends: CJK as unigrams plus bigrams (as Elasticsearch's `cjk`
analyzer makes bigrams, with unigrams added so one-character names still match), other scripts as
words. Lower-casing, ASCII folding and English stemming happen in the index's own analyzer.

Callers pass text already normalised (NFKC, traditional -> simplified): see assoc.text.normalize.
"""

from __future__ import annotations

import re

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")


def cjk_grams(run: str) -> list[str]:
    """Unigrams then overlapping bigrams of one run of CJK characters."""
    return list(run) + [run[i : i + 2] for i in range(len(run) - 1)]


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
