"""The draft's ranking answers agree with a plain sort, ties kept in candidate order."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.ranking.guardrails import CandidateList, Catalogue, PageState, UserContext
from launchpoint.ranking.guardrails.draft import Floor, RibbonDraft


def draft_of(scores: list[float], k: int = 3) -> RibbonDraft:
    n = len(scores)
    catalogue = Catalogue.build([f"i{m}" for m in range(n)], [["a"]] * n, [0.0] * n)
    user = UserContext("u", 0.0)
    candidates = CandidateList(np.arange(n, dtype=np.intp), np.array(scores, dtype=np.float64))
    return RibbonDraft("s", candidates, k, catalogue, PageState(n, user))


def reference(scores: list[float], mask: list[bool]) -> list[int]:
    return sorted((i for i in range(len(scores)) if mask[i]), key=lambda i: (-scores[i], i))


@settings(max_examples=60, deadline=None)
@given(
    n=st.sampled_from([1, 7, 64, 65, 500, 3000]),
    ties=st.booleans(),
    density=st.sampled_from([0.01, 0.2, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_ranked_is_a_stable_sort_by_score(n: int, ties: bool, density: float, seed: int) -> None:
    # Lists long enough for the sampled cut and for answers beyond the prefix; few distinct
    # scores make long runs of ties, which must keep the candidate order.
    rng = np.random.default_rng(seed)
    values = rng.choice([0.0, 0.1, 0.5, 0.9, 1.0], n) if ties else rng.random(n)
    scores = values.tolist()
    draft = draft_of(scores)
    mask = rng.random(n) < density
    expected = reference(scores, mask.tolist())
    for limit in (1, 5, 64, 200, len(scores)):
        assert draft.ranked(mask, limit).tolist() == expected[:limit]
    assert list(itertools.islice(draft.iter_ranked(mask), 100)) == expected[:100]


def test_ranked_keeps_ties_in_candidate_order_at_the_cut() -> None:
    draft = draft_of([0.5] * 2000 + [0.9])
    assert draft.ranked(np.ones(2001, dtype=bool), 3).tolist() == [2000, 0, 1]


def test_keeps_constraints_guards_cap_floor_and_distinct_categories() -> None:
    n = 4
    catalogue = Catalogue.build(
        [f"i{m}" for m in range(n)], [["a"], ["a"], ["b"], ["c"]], [0.0] * n
    )
    user = UserContext("u", 0.0)
    draft = RibbonDraft(
        "s", CandidateList(np.arange(n), np.ones(n)), 2, catalogue, PageState(n, user)
    )
    draft.place(0, 0, "t", "model")
    draft.place(1, 2, "t", "model")
    assert draft.keeps_constraints(1, 1)
    draft.category_cap = 1
    assert not draft.keeps_constraints(1, 1)  # a second "a"
    assert draft.keeps_constraints(1, 3)
    draft.min_categories = 2
    draft.category_cap = None
    assert not draft.keeps_constraints(1, 1)  # would leave one category
    draft.min_categories = 0
    draft.floors.append(Floor("f", np.array([False, False, True, False]), 1))
    assert not draft.keeps_constraints(1, 3)  # the floor's only card
    assert draft.keeps_constraints(0, 3)
