"""The catalogue's label sets: packed bits and label lists give the same answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.domain import SegmentSpec
from launchpoint.ranking.guardrails import Catalogue, ItemLabels
from launchpoint.ranking.guardrails.catalogue import CandidateLabels
from launchpoint.ranking.state import build_state


@settings(max_examples=100, deadline=None)
@given(
    n_labels=st.sampled_from([3, 64, 65, 90]),
    data=st.data(),
)
def test_bits_and_lists_agree(n_labels: int, data: st.DataObject) -> None:
    names = [f"l{n}" for n in range(n_labels)]
    sets = data.draw(st.lists(st.lists(st.integers(0, n_labels - 1), max_size=4), max_size=20))
    labels = ItemLabels.from_sets(names, sets)
    assert (labels.bits is not None) == (n_labels <= 64)
    items = np.array(
        data.draw(st.lists(st.integers(0, max(len(sets) - 1, 0)), max_size=10)) if sets else [],
        dtype=np.intp,
    )
    wanted = np.array(data.draw(st.lists(st.booleans(), min_size=n_labels, max_size=n_labels)))
    among = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items))), dtype=bool
    )
    as_lists = labels.gather_csr(items)
    expected_any = [any(wanted[label] for label in set(sets[i])) for i in items]
    assert as_lists.any_of(wanted).tolist() == expected_any
    expected_union = sorted(
        {label for i, keep in zip(items, among, strict=True) if keep for label in sets[i]}
    )
    assert np.flatnonzero(as_lists.union(among, n_labels)).tolist() == expected_union
    for i in items:
        assert labels.of(int(i)) == sorted(set(sets[i]))
    dense = labels.dense(items)
    assert dense.sum() == sum(len(set(sets[i])) for i in items)
    similarity = labels.jaccard(items)
    for a, i in enumerate(items):
        for b, j in enumerate(items):
            union = set(sets[i]) | set(sets[j])
            expected = len(set(sets[i]) & set(sets[j])) / len(union) if union else 0.0
            assert similarity[a, b] == pytest.approx(expected)
    if labels.bits is not None:
        packed = CandidateLabels(len(items), labels.bits[items], items[:0], items[:0])
        assert packed.any_of(wanted).tolist() == expected_any
        assert np.flatnonzero(packed.union(among, n_labels)).tolist() == expected_union


def test_words_and_label_lists_read_alike() -> None:
    few = Catalogue.build(
        ["x", "y", "z"],
        [["b", "a"], [], ["c"]],
        [1.0, 2.0, 3.0],
        [["crypto"], [], ["crypto", "gambling"]],
    )
    assert few.categories.bits is not None and few.categories.bits.dtype == np.uint8
    many_labels = ItemLabels.from_sets([f"l{n}" for n in range(80)], [[1, 0], [], [2]])
    assert many_labels.bits is None
    many = Catalogue(few.item_ids, few.item_index, few.created_at, many_labels, few.topics)
    items = np.array([2, 0], dtype=np.intp)
    for catalogue in (few, many):
        third = np.eye(catalogue.categories.size, dtype=bool)[2]
        assert catalogue.categories.gather(items).any_of(third).tolist() == [True, False]
    assert few.categories.names == ("a", "b", "c")
    assert few.categories.of(0) == [0, 1]
    assert few.topics.items_with(0).tolist() == [0, 2]
    assert few.topics.items_with(1).tolist() == [2]
    assert few.created_since(2.0).tolist() == [1, 2]
    assert few.created_since(3.5).tolist() == []


@pytest.mark.parametrize(
    ("n", "dtype"),
    [(8, np.uint8), (9, np.uint16), (32, np.uint32), (33, np.uint64), (64, np.uint64)],
)
def test_the_narrowest_word_that_holds_the_labels(n: int, dtype: type) -> None:
    labels = ItemLabels.from_sets([f"l{m}" for m in range(n)], [[n - 1], [0]])
    assert labels.bits is not None and labels.bits.dtype == dtype
    assert labels.bits.tolist() == [1 << (n - 1), 1]


def test_from_state_matches_the_serving_state() -> None:
    items = [
        {
            "id": "p1",
            "title": "",
            "text": "",
            "categories": ["bonds", "dividends"],
            "attributes": {},
            "available": True,
            "created_at": 10.0,
            "sensitive": ["crypto"],
        },
        {
            "id": "p2",
            "title": "",
            "text": "",
            "categories": [],
            "attributes": {},
            "available": True,
            "created_at": 20.0,
            "sensitive": [],
        },
        {
            "id": "p3",
            "title": "",
            "text": "",
            "categories": ["dividends"],
            "attributes": {},
            "available": False,
            "created_at": 30.0,
            "sensitive": ["crypto", "leverage"],
        },
    ]
    users = [{"id": "u1", "attributes": {}, "consents": {}, "created_at": 0.0}]
    state = build_state(1, users, items, [], [SegmentSpec(id="all")], now=100.0)
    catalogue = Catalogue.from_state(state)
    assert catalogue.item_ids == ["p1", "p2", "p3"]
    assert catalogue.item_index == {"p1": 0, "p2": 1, "p3": 2}
    assert catalogue.created_at.tolist() == [10.0, 20.0, 30.0]
    assert catalogue.categories.names == ("bonds", "dividends")
    assert [catalogue.categories.of(i) for i in range(3)] == [[0, 1], [], [1]]
    assert catalogue.topics.names == ("crypto", "leverage")
    assert [catalogue.topics.of(i) for i in range(3)] == [[0], [], [0, 1]]
