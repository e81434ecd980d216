"""Text normalisation shared by indexing and querying: NFKC, traditional -> simplified, spacing."""

from __future__ import annotations

import re
import unicodedata

import zhconv

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (full-width forms to ASCII), traditional characters to simplified, collapsed spaces."""
    text = unicodedata.normalize("NFKC", text or "")
    text = zhconv.convert(text, "zh-cn")
    return _SPACE.sub(" ", text).strip()


def compact(text: str) -> str:
    """Lower-case alphanumerics only, for fuzzy title comparison ("Chang'an  Secret" -> "changansecret")."""
    return "".join(ch for ch in normalize(text).lower() if ch.isalnum())
