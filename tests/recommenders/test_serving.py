from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from launchpoint.ranking.relevance import Relevance
from launchpoint.ranking.retrieval import RetrievalConfig
from launchpoint.ranking.state import WorkspaceState, build_state
from launchpoint.ranking.surfaces import related_scores
from launchpoint.recommenders.data import training_data_from_state
from launchpoint.recommenders.hybrid import ComponentSpec
from launchpoint.recommenders.model import TrainedModel, train_model
from tests.recommenders.tastes import taste_log

NOW = 1_800_000_000.0


def _state(extra_item: bool = False, extra_user: bool = False) -> WorkspaceState:
    log = taste_log()
    meta = log.metadata
    items: list[dict[str, Any]] = [
        {
            "id": iid,
            "title": meta.titles[n],
            "text": "",
            "categories": list(meta.categories[n]),
            "available": True,
            "created_at": NOW,
            "sensitive": [],
            "attributes": {},
        }
        for n, iid in enumerate(log.item_ids)
    ]
    user_ids = list(log.user_ids)
    events = [
        (log.user_ids[u], log.item_ids[i], "purchase", None, t)
        for u, i, t in zip(log.users, log.items, log.timestamps, strict=True)
    ]
    if extra_item:  # arrives after training: metadata only
        items.insert(
            0,
            {
                "id": "i-new",
                "title": "Action film: explosions and a heist",
                "text": "",
                "categories": ["Action"],
                "available": True,
                "created_at": NOW,
                "sensitive": [],
                "attributes": {},
            },
        )
    if extra_user:  # arrives after training, with a few action purchases
        user_ids.append("newcomer")
        events += [("newcomer", iid, "purchase", None, NOW - 5) for iid in ("i0", "i1", "i2")]
    users = [{"id": u, "created_at": NOW, "attributes": {}} for u in user_ids]
    return build_state(1 + extra_item + extra_user, users, items, [events], [], now=NOW)


def _model() -> TrainedModel:
    components = (
        ComponentSpec(family="item_knn", params={"n": 5}, weight=1.0),
        ComponentSpec(family="content", weight=0.2),
        ComponentSpec(family="popularity", weight=0.1),
    )
    data = training_data_from_state(_state())
    return train_model(data, "hybrid", {"components": components})


def test_a_later_state_is_scored_in_its_own_indices() -> None:
    model = _model()
    state = _state(extra_item=True, extra_user=True)
    scorer = model.for_state(state)
    assert model.for_state(state) is scorer  # aligned once per state
    built_beside = _state(extra_item=True, extra_user=True)
    assert model.for_state(built_beside) is not scorer
    assert model.for_state(state) is scorer  # the serving state's, kept while one is built
    model.keep_aligned(built_beside)  # it took over: the replaced state's scorer goes
    assert len(model._aligned) == 1 and model.for_state(state) is not scorer
    action = [state.item_index[f"i{n}"] for n in range(6)]
    romance = [state.item_index[f"i{n}"] for n in range(6, 12)]
    new_item = state.item_index["i-new"]
    fan = state.user_index["u3"]
    candidates = np.array([*action, *romance, new_item])
    scores = scorer.score(fan, candidates)
    assert scores[:6].mean() > scores[6:12].mean()
    assert scores[-1] < scores[:12].min()  # unknown to the model: after the known items
    newcomer = state.user_index["newcomer"]
    fresh = scorer.score(newcomer, np.array([*action[3:], *romance]))
    assert np.argmax(fresh) < 3  # scored from their purchases in the state


def test_explain_says_which_of_the_users_items_placed_a_card() -> None:
    model = _model()
    state = _state()
    scorer = model.for_state(state)
    user = state.user_index["u0"]
    owned = {state.item_ids[i] for i in state.interactions[user].indices}
    candidates = np.array([i for i in range(12) if state.item_ids[i] not in owned])
    best = candidates[np.argmax(scorer.score(user, candidates))]
    (placement,) = scorer.explain(user, candidates, [best])
    assert placement.item_id == state.item_ids[best]
    assert placement.signal == "item_knn"
    assert placement.because_item_id in owned


def test_related_and_onboarding_scores_in_state_indices() -> None:
    model = _model()
    state = _state(extra_item=True)
    scorer = model.for_state(state)
    context = state.item_index["i7"]
    others = np.array([state.item_index[i] for i in ("i6", "i8", "i1", "i2")])
    related = scorer.related(context, others)
    assert related[:2].mean() > related[2:].mean()
    new_context = scorer.related(state.item_index["i-new"], others)
    assert new_context[2:].mean() > new_context[:2].mean()  # by content: an action film
    onboarding = scorer.cold(["Romance"], np.arange(len(state.item_ids)))
    assert state.item_ids[int(np.argmax(onboarding))] in {f"i{n}" for n in range(6, 12)}


def test_segment_popularity_can_steer_a_ribbon() -> None:
    model = _model()
    state = _state()
    scorer = model.for_state(state)
    popularity = np.zeros(len(state.item_ids))
    popularity[state.item_index["i5"]] = 1000.0
    user = state.user_index["u12"]
    candidates = np.arange(len(state.item_ids))
    plain = scorer.score(user, candidates)
    steered = scorer.score(user, candidates, segment_popularity=popularity)
    assert steered[state.item_index["i5"]] - plain[state.item_index["i5"]] > 0


def test_scoring_every_item_at_once_equals_scoring_them_as_candidates() -> None:
    data = training_data_from_state(_state())
    model = train_model(data, "als", {"embedding_size": 4, "epochs": 5})
    state = _state(extra_item=True, extra_user=True)  # a new item and a folded-in newcomer
    scorer = model.for_state(state)
    every = np.arange(len(state.item_ids))
    for user_id in ("newcomer", state.user_ids[0], state.user_ids[-2]):
        user = state.user_index[user_id]
        # The product over every item is taken in single precision.
        np.testing.assert_allclose(scorer.score_all(user), scorer.score(user, every), atol=1e-5)
    same = _state()  # the training state itself: the model's items, in its order
    user = same.user_index[same.user_ids[0]]
    on_same = model.for_state(same)
    np.testing.assert_allclose(
        on_same.score_all(user), on_same.score(user, np.arange(len(same.item_ids))), atol=1e-5
    )


def test_a_model_file_reads_both_ways_across_versions() -> None:
    """Earlier versions saved no aligned scorer as None and read it back so: a model file
    moves between versions both ways (an upgrade, a rollback)."""
    model = _model()
    model.for_state(_state())
    assert model.__getstate__()["_aligned"] is None  # what an earlier version reads
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded._aligned == ()
    state = _state()
    assert loaded.for_state(state) is loaded.for_state(state)


def test_related_to_an_item_the_model_has_not_seen_is_not_explained_by_behaviour() -> None:
    model = _model()
    state = _state(extra_item=True)
    relevance = Relevance(state, model.for_state(state), RetrievalConfig())
    others = np.array([state.item_index[i] for i in ("i6", "i8", "i1", "i2")])
    _, share = related_scores(state, relevance, state.item_index["i-new"], others)
    assert not share.any()  # scored by content: explained by categories, not co-occurrence
    _, share = related_scores(state, relevance, state.item_index["i7"], others)
    assert share.all()
