"""The compact set of usage-key hashes behaves as a set: every repeat found, nothing else, through growth."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from workflows.sync.keyset import KeySet


@given(st.lists(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1), max_size=300))
def test_it_answers_as_a_python_set_does(keys: list[int]) -> None:
    ks, reference = KeySet(capacity=4), set()
    for k in keys:
        assert ks.add(k) == ((k or 1) not in reference)
        reference.add(k or 1)
    assert len(ks) == len(reference)
    assert not any(ks.add(k) for k in keys)  # every one is a repeat now


def test_a_million_hashes_of_usage_keys_with_repeats() -> None:
    rng = random.Random(7)
    keys = [hash(("2026-10-01", f"sm:inst-{i}", f"S{i % 97}")) for i in range(1_000_000)]
    repeats = rng.sample(range(len(keys)), 1_000)
    ks = KeySet()
    assert all(ks.add(k) for k in keys)
    assert len(ks) == len(keys)
    assert not any(ks.add(keys[i]) for i in repeats)
    assert ks.add(hash(("2026-11-01", "sm:inst-1", "S1")))  # a new key is new
