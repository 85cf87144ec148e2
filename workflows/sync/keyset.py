"""A set of 64-bit hashes in 16 to 32 bytes a key, for the sync's check that no usage key repeats.

A Python `set` of the same hashes costs about 85 bytes a key (a 32-byte int object and a table kept under
60 % full of 16-byte slots): over 100 MB for a 20,000-account export's 1.3 M rows, in the process that
validates them. Here the hashes sit unboxed in one `array` with open addressing (linear probing), kept at
most half full. A lookup is a few lines of Python, about as fast per row as the C set once the call is
counted, and the rows' other checks cost far more.
"""

from __future__ import annotations

from array import array

_EMPTY = 0


class KeySet:
    __slots__ = ("_count", "_mask", "_table")

    def __init__(self, capacity: int = 1 << 16) -> None:
        size = 1 << max(4, (2 * capacity - 1).bit_length())
        self._table = array("q", bytes(8 * size))
        self._mask = size - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, key: int) -> bool:
        """Add a hash (any int from `hash()`); False when it was there already."""
        key = key or 1  # 0 marks an empty slot (hash() is never -1, and 0 and 1 are equally rare)
        table, mask = self._table, self._mask
        i = key & mask
        while (held := table[i]) != _EMPTY:
            if held == key:
                return False
            i = (i + 1) & mask
        table[i] = key
        self._count += 1
        if 2 * self._count > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old = self._table
        size = 2 * len(old)
        table = array("q", bytes(8 * size))
        mask = size - 1
        for key in old:
            if key != _EMPTY:
                i = key & mask
                while table[i] != _EMPTY:
                    i = (i + 1) & mask
                table[i] = key
        self._table, self._mask = table, mask
