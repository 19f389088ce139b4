"""A closed-loop simulator: synthetic users with hidden tastes answer whatever the engine
shows them, over simulated days, through the engine's public HTTP API.

The world: a catalogue of items, one category (``genre``) each, with a hidden quality; users
with a hidden affinity per category (one or two favourites, little interest in the rest),
and a history of a few interactions before the experiment, drawn from those tastes, so the
engine has something to learn from. One segment per category ("fans of X"), and a home
surface whose fallback is the popular ribbon.

Each day every user who has not churned visits with probability ``visit_rate``, asks
``GET /v1/users/{id}/ribbons``, and reads the page top to bottom. A card is clicked with
probability ``base_ctr * affinity * (0.5 + quality) * position_bias * fatigue**seen``
(``seen``: how often the user was shown that item before); a click may lead to a save or a
purchase; an unclicked card the user dislikes may get a thumbs-down. A user who goes
``patience`` visits without a click may churn (and never come back). The day's events go to
``POST /v1/events/batch`` with ``context.recommendation_id``, so the engine learns from them
before the next day.

The experiment: users are assigned with the real assignment code to ``control`` (stored
with personalisation off, so the engine serves them the surface's non-personalised fallback)
or ``personalised`` (ribbons from their segments). What each user was shown is logged here,
as the exposure log would, and the outcomes are attributed and analysed with the same code
as a real experiment.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from launchpoint.errors import InvalidInput
from launchpoint.experiments.analysis import Analysis, Comparison, analyse, compare, ratio_estimate
from launchpoint.experiments.assignment import assign
from launchpoint.experiments.attribution import Exposure, Outcome, attribute
from launchpoint.experiments.metrics import build_user_table
from launchpoint.experiments.spec import EventTypes, ExperimentSpec, VariantSpec

DAY = 86_400.0
GENRES = (
    "drama",
    "comedy",
    "science",
    "travel",
    "food",
    "sport",
    "music",
    "history",
    "nature",
    "design",
    "finance",
    "health",
)
ARMS = ("control", "personalised")
_BATCH = 5000


class HttpClient(Protocol):
    """What the simulator needs of an HTTP client: ``httpx.Client`` and starlette's
    ``TestClient`` both fit."""

    def get(self, url: str, **kwargs: Any) -> Any: ...

    def post(self, url: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class SimulationConfig:
    users: int = 200
    items: int = 120
    categories: int = 8
    days: int = 5
    history_events: int = 6  # per user, before the experiment
    visit_rate: float = 0.8
    base_ctr: float = 0.3
    position_decay: float = 0.12  # position bias: 1 / (1 + decay * position)
    fatigue: float = 0.6  # each earlier showing of an item multiplies its click chance
    dislike_rate: float = 0.05  # thumbs-down chance of an unclicked, unwanted card
    patience: int = 3  # visits without a click before a user may churn
    churn_probability: float = 0.35
    treatment_share: float = 0.5
    seed: int = 7

    def __post_init__(self) -> None:
        if not 1 <= self.categories <= len(GENRES):
            raise InvalidInput(f"categories must be between 1 and {len(GENRES)}")
        for name in ("users", "items", "days"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"{name} must be at least 1")
        if not 0 < self.treatment_share < 1:
            raise InvalidInput("treatment_share must be between 0 and 1, exclusive")


@dataclass
class _World:
    genres: tuple[str, ...]
    item_ids: list[str]
    item_genre: np.ndarray  # index into genres
    quality: np.ndarray
    user_ids: list[str]
    affinity: np.ndarray  # users x genres, hidden
    arm: list[str]


@dataclass(frozen=True)
class SimulationResult:
    config: SimulationConfig
    experiment: ExperimentSpec
    analysis: Analysis
    retention: Comparison  # share of users still active at the end
    daily: dict[str, list[float]]  # arm -> clicks per assigned user, per day
    totals: dict[str, dict[str, float]]  # arm -> users, visits, clicks, churned
    requests: int
    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)


def simulation_experiment(seed: int, treatment_share: float = 0.5) -> ExperimentSpec:
    return ExperimentSpec(
        id="simulated-personalisation",
        seed=f"simulation-{seed}",
        variants=[
            VariantSpec(
                id="control", weight=1 - treatment_share, overrides={"personalisation": False}
            ),
            VariantSpec(id="personalised", weight=treatment_share),
        ],
    )


def _build_world(config: SimulationConfig, spec: ExperimentSpec) -> _World:
    rng = np.random.default_rng([config.seed, 1])
    genres = GENRES[: config.categories]
    item_genre = rng.integers(0, len(genres), config.items)
    quality = rng.beta(2.0, 3.0, config.items)
    # One or two favourite categories per user, a little interest in the rest.
    base = rng.gamma(0.3, 1.0, (config.users, len(genres))) + 0.02
    affinity = base / base.max(axis=1, keepdims=True)
    user_ids = [f"sim{n:05d}" for n in range(config.users)]
    arm = [assign(spec, u) or "control" for u in user_ids]
    return _World(
        genres,
        [f"item{n:04d}" for n in range(config.items)],
        item_genre,
        quality,
        user_ids,
        affinity,
        arm,
    )


def _setup(client: HttpClient, world: _World, config: SimulationConfig, start: float) -> None:
    items = [
        {
            "id": item,
            "title": f"{world.genres[g].title()} #{n}",
            "categories": [world.genres[g]],
            "attributes": {"genre": world.genres[g]},
            "created_at": start - 30 * DAY,
        }
        for n, (item, g) in enumerate(zip(world.item_ids, world.item_genre.tolist(), strict=True))
    ]
    _post(client, "/v1/items/batch", {"items": items})
    users = [
        {"id": u, "personalisation": arm == "personalised", "created_at": start - 30 * DAY}
        for u, arm in zip(world.user_ids, world.arm, strict=True)
    ]
    _post(client, "/v1/users/batch", {"users": users})
    rng = np.random.default_rng([config.seed, 2])
    weights = world.affinity[:, world.item_genre] * (0.5 + world.quality)[None, :]
    events = []
    for u, user in enumerate(world.user_ids):
        p = weights[u] / weights[u].sum()
        picks = rng.choice(len(world.item_ids), config.history_events, p=p)
        for k, item in enumerate(picks.tolist()):
            ts = start - DAY * (1 + 13 * rng.random())
            events.append(
                {
                    "message_id": f"sim-h-{u}-{k}",
                    "user_id": user,
                    "item_id": world.item_ids[item],
                    "type": "click",
                    "timestamp": ts,
                }
            )
    _post_events(client, events)
    min_users = max(3, config.users // 50)
    segments = [
        {
            "id": f"fans_{g}",
            "name": f"Fans of {g}",
            "priority": n + 1,
            "users": f"count(event in ('click', 'save', 'purchase') and genre = '{g}', "
            "within = '90d') >= 2",
            "items": f"genre = '{g}'",
            "min_users": min_users,
            "min_items": 3,
            "title": f"More {g}",
        }
        for n, g in enumerate(world.genres)
    ]
    surfaces = {"home": {"layers": 2, "cards": 8, "fallback": "popular"}}
    _post(client, "/v1/apply", {"segments": segments, "surfaces": surfaces})


def _post(client: HttpClient, url: str, body: dict[str, Any]) -> None:
    response = client.post(url, json=body)
    if response.status_code >= 300:
        raise InvalidInput(f"POST {url} answered {response.status_code}: {response.text[:500]}")


def _post_events(client: HttpClient, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), _BATCH):
        _post(client, "/v1/events/batch", {"events": events[start : start + _BATCH]})


def run_simulation(
    client: HttpClient,
    config: SimulationConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Run the closed loop against the API ``client`` talks to (an empty workspace), and
    analyse personalised ribbons against the non-personalised control."""
    config = config or SimulationConfig()
    began = time.perf_counter()
    spec = simulation_experiment(config.seed, config.treatment_share)
    world = _build_world(config, spec)
    start = float(int(time.time() // 3600) * 3600) - (config.days + 1) * DAY
    _setup(client, world, config, start)
    genre_of = {
        item: world.genres[g]
        for item, g in zip(world.item_ids, world.item_genre.tolist(), strict=True)
    }
    item_index = {item: n for n, item in enumerate(world.item_ids)}
    seen: list[dict[int, int]] = [{} for _ in world.user_ids]
    bored = np.zeros(len(world.user_ids), dtype=np.int64)
    churned = np.zeros(len(world.user_ids), dtype=bool)
    exposures: list[Exposure] = []
    outcomes: list[Outcome] = []
    daily: dict[str, list[float]] = {arm: [] for arm in ARMS}
    visits = dict.fromkeys(ARMS, 0)
    clicks_total = dict.fromkeys(ARMS, 0)
    requests = 0
    for day in range(config.days):
        events: list[dict[str, Any]] = []
        clicks_today = dict.fromkeys(ARMS, 0)
        for u, user in enumerate(world.user_ids):
            rng = np.random.default_rng([config.seed, 3, u, day])
            if churned[u] or rng.random() >= config.visit_rate:
                continue
            at = start + day * DAY + 3600 + rng.random() * 10 * 3600
            response = client.get(f"/v1/users/{user}/ribbons", params={"surface": "home"})
            requests += 1
            if response.status_code != 200:
                raise InvalidInput(f"ribbons for {user} answered {response.status_code}")
            page = response.json()
            shown = [c["item_id"] for r in page["ribbons"] for c in r["cards"]]
            rec = page["recommendation_id"]
            arm = world.arm[u]
            visits[arm] += 1
            exposures.append(Exposure(rec, user, arm, at, tuple(shown), "home"))
            clicked = 0
            for position, item_id in enumerate(shown):
                i = item_index[item_id]
                a = float(world.affinity[u, world.item_genre[i]])
                bias = 1.0 / (1.0 + config.position_decay * position)
                fatigue = config.fatigue ** seen[u].get(i, 0)
                seen[u][i] = seen[u].get(i, 0) + 1
                p_click = config.base_ctr * a * (0.5 + world.quality[i]) * bias * fatigue
                context = {"recommendation_id": rec, "surface": "home", "position": position}
                ts = at + 5.0 * (position + 1)
                kinds: list[str] = []
                if rng.random() < min(p_click, 1.0):
                    kinds.append("click")
                    clicked += 1
                    if rng.random() < 0.3 * a:
                        kinds.append("save")
                    if rng.random() < 0.08 * a:
                        kinds.append("purchase")
                elif rng.random() < config.dislike_rate * (1 - a) * bias:
                    kinds.append("thumbs_down")
                for k, kind in enumerate(kinds):
                    mid = f"sim-{day}-{u}-{position}-{kind}"
                    events.append(
                        {
                            "message_id": mid,
                            "user_id": user,
                            "item_id": item_id,
                            "type": kind,
                            "timestamp": ts + k,
                            "context": context,
                        }
                    )
                    outcomes.append(Outcome(user, kind, ts + k, item_id, None, rec))
            clicks_today[arm] += clicked
            clicks_total[arm] += clicked
            bored[u] = 0 if clicked else bored[u] + 1
            if bored[u] >= config.patience and rng.random() < config.churn_probability:
                churned[u] = True
        _post_events(client, events)
        for arm in ARMS:
            assigned = sum(1 for a in world.arm if a == arm)
            daily[arm].append(clicks_today[arm] / assigned if assigned else 0.0)
        if progress is not None:
            progress(day + 1, config.days)
    attributed = attribute(exposures, outcomes, spec.window_seconds)
    table = build_user_table(
        exposures,
        attributed,
        spec.variant_ids,
        EventTypes(),
        {item: [genre] for item, genre in genre_of.items()},
    )
    weights = [v.weight for v in spec.variants]
    analysis = analyse(table, spec.control, weights, alpha=spec.alpha, tau=spec.sequential_tau)
    arms = np.asarray([ARMS.index(a) for a in world.arm])
    kept = (~churned).astype(np.float64)
    ones = np.ones(len(kept))
    retention = compare(
        ratio_estimate(kept[arms == 1], ones[arms == 1]),
        ratio_estimate(kept[arms == 0], ones[arms == 0]),
        alpha=spec.alpha,
        tau=spec.sequential_tau,
        metric="retention",
        variant="personalised",
        control_id="control",
    )
    totals = {
        arm: {
            "users": float((arms == n).sum()),
            "visits": float(visits[arm]),
            "clicks": float(clicks_total[arm]),
            "churned": float(churned[arms == n].sum()),
        }
        for n, arm in enumerate(ARMS)
    }
    return SimulationResult(
        config, spec, analysis, retention, daily, totals, requests, time.perf_counter() - began
    )


def new_workspace_id(seed: int) -> str:
    return f"simulation-{seed}-{uuid.uuid4().hex[:8]}"
