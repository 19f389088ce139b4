"""The scoring stage reads a factor model's scores of every item once per request, and the
user's affinity for every item once per request; each ribbon gathers its candidates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from launchpoint.domain import SegmentSpec
from launchpoint.domain.segments import SurfaceSpec
from launchpoint.ranking.pipeline import RibbonRequest, ServingTools, home_page, user_signals
from launchpoint.ranking.relevance import WHOLE_CATALOGUE_FROM, Relevance
from launchpoint.ranking.state import build_state
from tests.ranking.guardrails.worlds import DAY, NOW
from tests.ranking.test_retrieval import N_ITEMS, als_model, taste_state


def test_a_pages_ribbons_read_one_product_of_every_item(monkeypatch: pytest.MonkeyPatch) -> None:
    state = taste_state()
    scorer = als_model().for_state(state)
    products: list[int] = []
    score_all = scorer.score_all

    def counted(user: int) -> Any:
        products.append(user)
        return score_all(user)

    monkeypatch.setattr(scorer, "score_all", counted)
    relevance = Relevance(state, scorer)
    segment = state.segments[0]
    user = user_signals(state, "u004", NOW, personal=True)
    large = np.flatnonzero(segment.eligible)
    small = large[: max(1, int(WHOLE_CATALOGUE_FROM * N_ITEMS) - 1)]
    assert relevance._model_scores(user, small, segment) is not None
    assert products == []  # a small ribbon first: its candidates alone
    for items in (large, small, large[::3]):  # then one product serves every ribbon
        np.testing.assert_allclose(
            relevance._model_scores(user, items, segment),
            scorer.score(user.index, items),
            atol=1e-5,
        )
    assert products == [user.index]
    other = user_signals(state, "u005", NOW, personal=True)  # the next request: its own
    relevance._model_scores(other, large, segment)
    assert products == [user.index, other.index]


def test_affinity_for_every_item_is_the_category_product() -> None:
    state = taste_state()
    relevance = Relevance(state)
    user = user_signals(state, "u004", NOW, personal=True)
    items = np.arange(N_ITEMS)
    expected = state.item_categories @ user.affinity
    np.testing.assert_allclose(relevance.item_affinity(user, items), expected, atol=1e-12)
    assert relevance.item_affinity(user, items[5:9]).tolist() == expected[5:9].tolist()


def test_because_names_the_users_strongest_event_on_the_item_behind_the_card() -> None:
    items = [
        {"id": f"i{n}", "title": f"Item {n}", "text": "", "categories": ["c"], "available": True,
         "created_at": NOW - DAY, "sensitive": [], "attributes": {}}
        for n in range(4)
    ]  # fmt: skip
    users = [{"id": u, "created_at": NOW, "attributes": {}} for u in ("ann", "bob")]
    events = [
        ("ann", "i0", "view", None, NOW - 50),
        ("ann", "i1", "view", None, NOW - 40),
        ("bob", "i1", "purchase", None, NOW - 35),  # another user's event says nothing of ann's
        ("ann", "i0", "purchase", None, NOW - 30),  # a purchase outranks a view of the same item
        ("ann", "i2", "view", None, NOW - 20),
        ("ann", "i2", "save", None, NOW - 10),
    ]
    spec = SegmentSpec(id="all", users="true", items="true", title="All")
    state = build_state(1, users, items, [events], [spec], now=NOW)
    relevance = Relevance(state)
    ann = user_signals(state, "ann", NOW, personal=True)
    said = {item: relevance._because(ann, item) for item in ("i0", "i1", "i2", "i3")}
    assert said == {
        "i0": "Because you bought Item 0",
        "i1": "Because you viewed Item 1",
        "i2": "Because you saved Item 2",
        "i3": "Because you liked Item 3",  # no event of hers on it: the plain verb
    }


def test_the_fallback_ribbon_is_explained_by_popularity_not_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user in no segment gets the fallback ribbon, ranked by popularity alone: its cards
    say so, even with a trained model and a user with clear tastes, and the model is not
    asked why (which would cost a pass of every component over the catalogue)."""
    state = taste_state()
    state.segments = []  # no segment for anyone: every page falls back
    scorer = als_model().for_state(state)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model did not place the fallback's cards")

    monkeypatch.setattr(scorer, "explain", refuse)
    user = user_signals(state, "u004", NOW, personal=True)
    assert user.personal and user.affinity.max() > 0
    surface = SurfaceSpec(layers=2, cards=6, fallback="popular")
    page, _ = home_page(
        state,
        ServingTools.for_state(state),
        Relevance(state, scorer),
        RibbonRequest("u004", layers=2, cards=6),
        surface,
        user,
    )
    assert page.fallback_used
    (ribbon,) = page.ribbons
    model_cards = [c for c in ribbon.cards if c.signal not in ("exploration", "recency")]
    assert model_cards
    assert {(c.reason, c.signal) for c in model_cards} == {("Popular right now", "popular")}
