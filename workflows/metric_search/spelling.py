"""Typo tolerance: a word the dictionary never uses is replaced by the closest word it does use.

Corrections come only from the dictionary's own vocabulary (and the synonym file's), so a typo can
only turn into a word that some definition or synonym actually contains. Guard rails keep unknown
words that are not typos ("MTTR", "NPS") from being bent into something the question never meant:
short words are left alone, the first letter must match, and the allowed distance grows with length.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

MIN_LENGTH = 4  # "ppl", "mr", "sca": abbreviations, handled by the synonym file, never "corrected"
LONG_WORD = 7  # from this length two edits are allowed (one below it)


@dataclass
class Speller:
    """Known words (with how often definitions use them) bucketed by first letter for fast look-up."""

    frequency: dict[str, int]
    _by_initial: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for word in sorted(self.frequency):
            self._by_initial.setdefault(word[0], []).append(word)

    def known(self, word: str) -> bool:
        return word in self.frequency

    def correct(self, word: str) -> str | None:
        """The known word this one is most likely a typo of, or None (known, too short, or nothing close)."""
        if word in self.frequency or len(word) < MIN_LENGTH or not word.isalpha():
            return None
        allowed = 2 if len(word) >= LONG_WORD else 1
        best: tuple[int, int, str] | None = None
        for candidate in self._by_initial.get(word[0], ()):
            if abs(len(candidate) - len(word)) > allowed:
                continue
            distance = OSA.distance(word, candidate, score_cutoff=allowed)
            if distance > allowed:
                continue
            rank = (distance, -self.frequency[candidate], candidate)
            if best is None or rank < best:
                best = rank
        return best[2] if best else None


def build_speller(counts: Mapping[str, int], extra: Iterable[str] = ()) -> Speller:
    """A speller over the definitions' words (`counts`) plus any other words the search understands."""
    frequency = {w: n for w, n in counts.items() if w.isalpha()}
    for word in extra:
        if word.isalpha():
            frequency.setdefault(word, 1)
    return Speller(frequency)
