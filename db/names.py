"""How names are compared: the same rule when the sync stores them and when a person types one."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def name_key(name: str) -> str:
    """'  ACME Córp., Inc ' -> 'acme corp inc': lower case, accents and punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return _NON_ALNUM.sub(" ", ascii_only).strip()
