"""The shortlist stage: with exact scores a page is the one the whole candidate list gives; with
approximate search the cards still keep every promise, and the trace names the stage."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from launchpoint.domain import SegmentSpec, SurfaceSpec
from launchpoint.ranking.guardrails import Catalogue, DiversityConfig, GuardrailChain, UserContext
from launchpoint.ranking.pipeline import (
    RibbonRequest,
    ServingTools,
    _candidates,
    home_page,
    user_signals,
)
from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.retrieval import (
    SAMPLE,
    RetrievalConfig,
    best_of,
    exact_rank,
    shortlisted,
)
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.recommenders.data import training_data_from_state
from launchpoint.recommenders.model import TrainedModel, train_model
from tests.ranking.guardrails.worlds import (
    DAY,
    FEW_CATEGORIES,
    NOW,
    TOPICS,
    World,
    configs,
    only,
)

SMALL = RetrievalConfig(shortlist=10)


@st.composite
def big_worlds(draw: st.DrawFn) -> World:
    """Hundreds of candidates (so the shortlist applies), seeded numpy for the bulk and
    Hypothesis for the shape: few distinct scores (ties at the shortlist's edge), few
    categories, fresh items, interests and ignored items."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(260, 500))
    categories = [
        sorted(set(rng.choice(FEW_CATEGORIES, rng.integers(0, 3)).tolist())) for _ in range(n)
    ]
    created = (NOW - rng.integers(0, 30, n) * DAY).tolist()
    catalogue = Catalogue.build([f"i{m:03d}" for m in range(n)], categories, created)
    distinct = draw(st.sampled_from([3, 7, 1000]))
    scores = rng.integers(0, distinct, n) / distinct
    affinity = None
    if draw(st.booleans()):
        affinity = rng.choice([0.0, 0.1, 0.5, 1.0], catalogue.categories.size)
        if draw(st.booleans()):  # what the guardrails reach for scores lowest: below the best
            liked = catalogue.categories.gather(np.arange(n)).any_of(affinity >= 0.5)
            fresh = np.asarray(created) >= NOW - 7 * DAY
            scores = scores + liked - 0.5 * fresh
    ignored = rng.choice(n, draw(st.integers(0, 6)), replace=False).astype(np.intp)
    user = UserContext(
        "u1",
        NOW,
        consents=frozenset(TOPICS),
        category_affinity=affinity,
        ignored_items=ignored,
        ignored_counts=rng.integers(1, 6, len(ignored)).astype(np.intp),
        seed=draw(st.integers(0, 3)),
    )
    order = np.arange(n, dtype=np.intp)
    candidates = _candidates("s1", order, scores).candidates
    return World(catalogue, categories, [[] for _ in range(n)], created, candidates, user,
                 draw(st.integers(1, 5)))  # fmt: skip


def page_cards(
    world: World, chain: GuardrailChain, config: RetrievalConfig
) -> tuple[list[Any], int, int]:
    """Two ribbons of one page (the second sees the first's items taken), with the shortlist
    of ``config``: every card as (ribbon, item, source, label), how many ribbons took a
    shortlist, and how many promises were not kept (notes)."""
    items = np.sort(world.candidates.items)
    scores = np.empty(len(items))
    scores[np.searchsorted(items, world.candidates.items)] = world.candidates.scores
    page = chain.new_page(world.user)
    out = []
    shortlisted_ribbons = notes = 0
    for key in ("s1", "s2"):
        kept, kept_scores, removed = shortlisted(
            chain, key, items, [], world.user, world.k, config,
            lambda some: scores[np.searchsorted(items, some)],
        )  # fmt: skip
        shortlisted_ribbons += len(kept) < len(items)
        ribbon = chain.ribbon(_candidates(key, kept, kept_scores, removed), world.k, page)
        out += [(key, c.item, c.source, c.label) for c in ribbon.cards]
        notes += len(ribbon.notes)
    return out, shortlisted_ribbons, notes


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_an_exact_shortlist_serves_the_page_the_whole_list_serves(data: st.DataObject) -> None:
    world = data.draw(big_worlds())
    config = data.draw(configs(world))
    chain = GuardrailChain(config, world.catalogue)
    everything, none, missed = page_cards(world, chain, RetrievalConfig(shortlist=0))
    short, used, short_missed = page_cards(world, chain, SMALL)
    assert none == 0 and used == 2
    diversity = config.diversity
    if (
        diversity.min_categories
        or diversity.max_per_category
        or (config.exploration.share and config.recency.share)
    ):
        # A floor or cap that needs cards of other kinds than the best candidates' looks for
        # one that keeps every other promise among the first SWAP_SEARCH candidates of that
        # kind, or walks the list under the cap; past the shortlist's best candidates those
        # are not the same ones, so the cards may differ. The promises may not: the shortlist
        # fills as many cards and misses no promise the whole list keeps.
        assert len(short) == len(everything) and short_missed <= missed
    else:
        assert short == everything


def test_a_category_floor_reaches_below_best_candidates_all_in_one_category() -> None:
    # The 400 best candidates are all 'a' (a user's favourite); b, c and d score lower.
    n = 600
    categories = [["a"] if m < 400 else [["b", "c", "d"][m % 3]] for m in range(n)]
    catalogue = Catalogue.build([f"i{m:03d}" for m in range(n)], categories, [NOW] * n)
    scores = np.where(np.arange(n) < 400, 2.0, 1.0) - np.arange(n) / n
    user = UserContext("u1", NOW)
    candidates = _candidates("s1", np.arange(n, dtype=np.intp), scores).candidates
    world = World(catalogue, categories, [[] for _ in range(n)], [NOW] * n, candidates, user, 6)
    floor = only(diversity=DiversityConfig(min_categories=3, max_per_category=2))
    chain = GuardrailChain(floor, catalogue)
    everything, _, missed = page_cards(world, chain, RetrievalConfig(shortlist=0))
    short, used, short_missed = page_cards(world, chain, SMALL)
    assert used == 2 and missed == short_missed == 0
    assert short == everything
    shown = [categories[item][0] for key, item, _, _ in short if key == "s1"]
    assert len(set(shown)) >= 3 and max(shown.count(c) for c in shown) <= 2


def test_best_of_breaks_ties_at_the_edge_by_position_as_the_chain_does() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.7])
    assert best_of(scores, 3).tolist() == [True, True, False, False, False, True]
    assert best_of(scores, 4).tolist() == [True, True, True, False, False, True]
    assert best_of(np.zeros(5), 2).tolist() == [True, True, False, False, False]
    assert best_of(scores, 0).sum() == 0
    assert best_of(scores, 10).all()


def test_a_sample_that_misleads_the_threshold_still_gives_the_exact_best() -> None:
    # Only the sampled positions score high: the threshold keeps fewer than asked for, and
    # the group is ranked in full.
    scores = np.zeros(4 * SAMPLE)
    scores[::4] = np.linspace(1.0, 2.0, SAMPLE)
    scores[1::4] = np.linspace(0.1, 0.9, SAMPLE)
    kept = exact_rank(scores)(np.ones(len(scores), dtype=bool), 114)
    expected = np.zeros(len(scores), dtype=bool)
    expected[np.argsort(-scores, kind="stable")[:114]] = True
    assert kept.tolist() == expected.tolist()


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 3000),
    st.integers(2, 50),
    st.floats(0.01, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_a_groups_best_are_the_ones_a_full_sort_finds(
    size: int, distinct: int, share: float, seed: int
) -> None:
    # Large groups take a threshold from a sample; many ties test the edge, where the
    # earlier position wins as in best_of.
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, distinct, size) / distinct
    scores[rng.random(size) < 0.05] = -np.inf
    rank = exact_rank(scores)
    for n in (1, 10, 114, size):
        mask = rng.random(size) < share
        members = np.flatnonzero(mask)
        expected = np.zeros(size, dtype=bool)
        expected[members[np.lexsort((members, -scores[members]))[:n]]] = True
        assert rank(mask, n).tolist() == expected.tolist()


# -- approximate search through the pipeline ---------------------------------------------------
N_ITEMS, N_USERS, TASTES = 1_200, 240, 8


def taste_state(newcomer: bool = False) -> WorkspaceState:
    """Items in one of eight tastes; each user buys a dozen items, nine in ten of their taste."""
    rng = np.random.default_rng(5)
    taste = rng.integers(0, TASTES, N_ITEMS)
    items = [
        {"id": f"i{n:04d}", "title": f"Item {n}", "text": "", "categories": [f"t{taste[n]}"],
         "available": True, "created_at": NOW - 90 * DAY, "sensitive": [],
         "attributes": {"shelf": int(n % 3 != 0)}}
        for n in range(N_ITEMS)
    ]  # fmt: skip
    users = [{"id": f"u{u:03d}", "created_at": NOW, "attributes": {}} for u in range(N_USERS)]
    events = []
    for u in range(N_USERS):
        own = np.flatnonzero(taste == u % TASTES)
        picks = np.where(rng.random(12) < 0.9, rng.choice(own, 12), rng.integers(0, N_ITEMS, 12))
        events += [(f"u{u:03d}", f"i{i:04d}", "purchase", None, NOW - DAY * (12 - m))
                   for m, i in enumerate(picks.tolist())]  # fmt: skip
    if newcomer:  # arrives after training: served from a history folded in
        users.append({"id": "newcomer", "created_at": NOW, "attributes": {}})
        own = np.flatnonzero(taste == 3)[:6]
        events += [("newcomer", f"i{i:04d}", "purchase", None, NOW - 60) for i in own.tolist()]
    spec = SegmentSpec(id="shelf", users="true", items="shelf = 1", title="On the shelf")
    return build_state(1, users, items, [sorted(events, key=lambda e: e[4])], [spec], now=NOW)


def als_model() -> TrainedModel:
    data = training_data_from_state(taste_state())
    model = train_model(data, "als", {"embedding_size": 16, "epochs": 10})
    assert model.vector_index(wait=True) is not None
    return model


def test_approximate_search_serves_a_guarded_page_and_the_trace_names_it() -> None:
    model = als_model()
    state = taste_state(newcomer=True)
    scorer = model.for_state(state)
    tools = ServingTools.for_state(state)
    surface = SurfaceSpec(layers=1, cards=10, fallback="none")
    approximate = Relevance(state, scorer, RetrievalConfig(shortlist=20, ann_min_items=100))
    exact = Relevance(state, scorer, RetrievalConfig(shortlist=0))
    overlaps = []
    for user_id in ["newcomer", *(f"u{u:03d}" for u in range(0, N_USERS, 12))]:
        user = user_signals(state, user_id, NOW, personal=True)
        assert approximate.search(user) is not None  # a trained user, or a folded-in newcomer
        request = RibbonRequest(user_id, explain=True)
        page, guarded = home_page(state, tools, approximate, request, surface, user)
        (ribbon,) = page.ribbons
        eligible = state.segments[0].eligible
        for card in ribbon.cards:
            item = state.item_index[card.item_id]
            assert eligible[item] and user.allowed[item]
        trace = guarded[0].trace
        assert trace is not None
        assert "shortlist_ann" in trace.steps
        plain = RibbonRequest(user_id)
        fast, _ = home_page(state, tools, approximate, plain, surface, user)
        slow, _ = home_page(state, tools, exact, plain, surface, user)
        # The trace shows what was served: explaining a page does not change it (the
        # upstream filters' flags once stayed in candidate order while the candidates were
        # sorted by score, and an explained page showed consumed items).
        assert [c.item_id for c in ribbon.cards] == [c.item_id for c in fast.ribbons[0].cards]
        explained, _ = home_page(state, tools, exact, request, surface, user)
        assert [c.item_id for c in explained.ribbons[0].cards] == [
            c.item_id for c in slow.ribbons[0].cards
        ]
        fast_ids = {c.item_id for c in fast.ribbons[0].cards}
        slow_ids = {c.item_id for c in slow.ribbons[0].cards}
        overlaps.append(len(fast_ids & slow_ids) / len(slow_ids))
    # The best cards by approximate search are, nearly always, the best by exact scores.
    assert np.mean(overlaps) >= 0.8


def test_a_cold_user_or_a_model_without_vectors_is_scored_exactly() -> None:
    model = als_model()
    state = taste_state()
    relevance = Relevance(state, model.for_state(state), RetrievalConfig(ann_min_items=100))
    personal = user_signals(state, "u001", NOW, personal=True)
    off = user_signals(state, "u001", NOW, personal=False)
    assert relevance.search(personal) is not None
    assert relevance.search(off) is None  # personalisation off: no user vector is used
    assert Relevance(state, None).search(personal) is None
    never = Relevance(state, model.for_state(state), RetrievalConfig(ann_min_items=0))
    assert never.search(personal) is None
    # A catalogue smaller than the threshold: no ribbon can reach it, no index is asked for.
    small = Relevance(state, model.for_state(state), RetrievalConfig(ann_min_items=N_ITEMS + 1))
    assert small.search(personal) is None
