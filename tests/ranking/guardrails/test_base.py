"""Shares, per-user seeds, the candidate list's checks and notes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.errors import InvalidInput
from launchpoint.ranking.guardrails import CandidateList, GuardrailNote, share_count, user_seed
from launchpoint.ranking.guardrails.base import item_keys


@pytest.mark.parametrize(
    ("share", "cards", "expected"),
    [
        (0.2, 10, 2),
        (0.25, 10, 3),
        (0.3, 10, 3),
        (0.2, 2, 0),
        (0.2, 3, 1),
        (0.5, 1, 1),
        (1.0, 7, 7),
        (0.0, 10, 0),
        (0.2, 0, 0),
    ],
)
def test_share_count_rounds_to_the_nearest_card(share: float, cards: int, expected: int) -> None:
    assert share_count(share, cards) == expected


def test_user_seeds_are_stable_and_tell_users_ribbons_and_seeds_apart() -> None:
    # Golden values: a change here moves every user's exploration draw.
    seed = user_seed(0, "u1", "s1")
    assert seed == user_seed(0, "u1", "s1") == 7432758601702675364
    assert item_keys(seed, np.array([0, 5], dtype=np.intp)).tolist() == [
        15681658175574328456,
        14607526361667320528,
    ]
    seeds = {
        user_seed(s, u, r, e)
        for s in (0, 1)
        for u in ("u1", "u2")
        for r in ("a", "b")
        for e in (0, 1)
    }
    assert len(seeds) == 16


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=2, max_size=50, unique=True),
    st.integers(0, 2**64 - 1),
)
def test_item_keys_do_not_depend_on_the_other_items(items: list[int], seed: int) -> None:
    everything = item_keys(seed, np.array(items, dtype=np.intp))
    alone = [int(item_keys(seed, np.array([item], dtype=np.intp))[0]) for item in items]
    assert everything.tolist() == alone
    assert len(set(alone)) == len(alone)


def test_a_valid_candidate_list_passes() -> None:
    checked = CandidateList(np.array([2, 0]), np.array([0.5, 1])).validated(3)
    assert checked.items.dtype == np.intp and checked.scores.dtype == np.float64


@pytest.mark.parametrize(
    ("items", "scores", "message"),
    [
        ([0, 0], [1.0, 0.5], "an item appears twice"),
        ([0, 3], [1.0, 0.5], "indices must be in 0..3"),
        ([0, 1], [1.0, np.nan], "scores must be finite"),
        ([0, 1], [1.0], "one score per item is needed"),
        ([0.5], [1.0], "item indices must be integers"),
    ],
)
def test_an_invalid_candidate_list_says_what_is_wrong(items, scores, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        CandidateList(np.array(items), np.array(scores)).validated(3)
    assert [d.message for d in raised.value.details] == [message]


def test_a_note_reads_as_one_line() -> None:
    note = GuardrailNote(
        "recency",
        "s1",
        "30% of cards newer than 7d",
        3,
        1,
        "only 1 fresh items among the candidates this user may see",
    )
    assert note.message == (
        "recency: 30% of cards newer than 7d: wanted 3, got 1; only 1 fresh items among the "
        "candidates this user may see"
    )
    assert note.as_dict()["ribbon"] == "s1"
