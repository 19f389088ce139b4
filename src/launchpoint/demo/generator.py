"""A seeded investment-platform population with hidden tastes, for the demo and benchmarks.

Products have a Zipf-like popularity; customers have a hidden theme persona and an asset-class
appetite tied to their risk profile. Each event picks a customer (heavy-tailed activity), then
mostly an item their tastes favour and otherwise one the platform pushed (popularity only), and
its type follows how well the item matches: good matches get clicks, saves and purchases, poor
ones dismissals and thumbs-down. Events stream in time order, in chunks of ``CHUNK`` drawn from
their own seeded stream, so memory stays bounded and any chunk is reproducible on its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

import numpy as np

from launchpoint.demo.names import (
    ASSET_CLASSES,
    REGIONS,
    THEMES,
    numbered,
    product_text,
    product_title,
)
from launchpoint.demo.population import (
    AGE_BANDS,
    CRYPTO,
    DAY,
    GOALS,
    RISK_PROFILES,
    USER_REGIONS,
    YEAR_DAYS,
    Catalogue,
    Customers,
    Floats,
    Ints,
    build_catalogue,
    build_customers,
    rng_for,
)
from launchpoint.domain.records import EventIn, ItemIn, UserIn
from launchpoint.errors import InvalidInput

CHUNK = 16_384
WINDOW_DAYS = 180
EVENT_TYPES = ("view", "click", "save", "purchase", "dismiss", "thumbs_down")
_PURCHASE = EVENT_TYPES.index("purchase")
_EVENT_FIELDS = frozenset(("message_id", "user_id", "item_id", "type", "value", "timestamp"))
_PUSHED_SHARE = 0.3  # events on items the platform pushed rather than ones the customer sought
_RECENCY = 1.5  # time density grows like age**0.5 towards `end`: activity is picking up
# How much a customer likes each product region: home 3, global 2, elsewhere 1.
_REGION_TASTE = np.array(
    [
        [3.0 if r == home else 2.0 if r == "global" else 1.0 for r in REGIONS]
        for home in USER_REGIONS
    ],
    dtype=np.float64,
)


def _categorical(rng: np.random.Generator, weights: Floats) -> Ints:
    """One draw per row, proportional to the row's weights; never picks a zero weight."""
    cum = np.cumsum(weights, axis=1)
    target = (1.0 - rng.random(len(weights))) * cum[:, -1]
    picked = (cum < target[:, None]).sum(axis=1)
    return np.asarray(np.minimum(picked, weights.shape[1] - 1), dtype=np.int64)


def _search(cumulative: Floats, targets: Floats) -> Ints:
    """``searchsorted(side="left")`` with the targets sorted first: numpy then walks the table
    in order, two to four times faster on the large tables of a million customers."""
    order = np.argsort(targets)
    found = np.empty(len(targets), dtype=np.int64)
    found[order] = np.searchsorted(cumulative, targets[order], side="left")
    return found


@dataclass(frozen=True)
class _EventChunk:
    index: Ints  # global event number, for message ids
    user: Ints
    item: Ints
    type: Ints
    value: Floats
    timestamp: Floats


class _EventModel:
    """Sampling tables derived once from the population: items grouped into (theme, class,
    region) cells, so a taste draw costs one small row per event however large the catalogue."""

    def __init__(self, items: Catalogue, users: Customers, seed: int, n_events: int, end: float):
        self.items, self.users = items, users
        self.seed, self.n_events, self.end = seed, n_events, end
        self.n_cells = len(THEMES) * len(ASSET_CLASSES) * len(REGIONS)
        cell = (items.theme * len(ASSET_CLASSES) + items.asset_class) * len(REGIONS) + items.region
        self.by_cell = np.argsort(cell, kind="stable")
        self.cell_cum = np.cumsum(items.popularity[self.by_cell])
        cells = np.arange(self.n_cells)
        self.cell_start = np.searchsorted(cell[self.by_cell], cells, side="left")
        self.cell_end = np.searchsorted(cell[self.by_cell], cells, side="right")
        mass = np.bincount(cell, weights=items.popularity, minlength=self.n_cells)
        self.cell_mass = mass
        self.cell_below = np.concatenate([[0.0], np.cumsum(mass)[:-1]])
        self.theme_cells = mass.reshape(len(THEMES), -1)  # (theme, class x region)
        self.theme_cells_t = np.ascontiguousarray(self.theme_cells.T)  # contiguous: BLAS path
        self.pop_all = np.cumsum(items.popularity)
        self.pop_safe = np.cumsum(np.where(items.asset_class == CRYPTO, 0.0, items.popularity))
        self.activity = np.cumsum(users.activity)

    def chunk(self, start: int) -> _EventChunk:
        stop = min(start + CHUNK, self.n_events)
        rng = rng_for(self.seed, 3, start // CHUNK)
        n = stop - start
        index = np.arange(start, stop)
        # Stratified quantiles keep the stream in time order across chunks.
        q = (index + rng.random(n)) / self.n_events
        if stop == self.n_events:
            q[-1] = 1.0
        window = WINDOW_DAYS * DAY
        ts = np.round(self.end - window + window * q ** (1 / _RECENCY), 3)
        ts = np.clip(ts, self.end - window, self.end)
        joined = np.searchsorted(self.users.created, ts, side="right")  # customers who exist
        reach = (1.0 - rng.random(n)) * self.activity[joined - 1]
        user = np.minimum(_search(self.activity, reach), joined - 1)
        item = np.full(n, -1, dtype=np.int64)
        sought = rng.random(n) >= _PUSHED_SHARE
        item[sought] = self._by_taste(rng, user[sought])
        pushed = (item < 0) | (self.items.launch[item] > ts)  # not launched yet: push instead
        item[pushed] = self._by_popularity(rng, user[pushed], ts[pushed])
        match = np.sqrt(
            self.users.theme_taste[user, self.items.theme[item]]
            * self.users.class_taste[user, self.items.asset_class[item]]
        ).astype(np.float64)
        miss = (1.0 - match) ** 2
        probs = np.stack(
            [0.10 + 0.16 * match, 0.05 * match**2, 0.02 * match**2, 0.10 * miss, 0.03 * miss],
            axis=1,
        )
        bounds = np.cumsum(np.concatenate([1.0 - probs.sum(axis=1, keepdims=True), probs], 1), 1)
        kind = (rng.random(n)[:, None] >= bounds[:, :-1]).sum(axis=1)
        amount = np.exp(rng.normal(np.log(750.0), 1.0, n)) * self.users.wealth[user]
        value = np.asarray(np.round(np.clip(amount, 25.0, 250_000.0), 2), dtype=np.float64)
        return _EventChunk(index, user, item, kind, value, ts)

    def _by_taste(self, rng: np.random.Generator, user: Ints) -> Ints:
        """Draw a theme, then a (class, region) cell within it, by taste x popularity mass (the
        two-step draw is exact and avoids a full row of cells per event), then an item in it."""
        users = self.users
        classes = users.class_taste[user].astype(np.float64)
        class_region = (
            classes[:, :, None] * _REGION_TASTE[users.region[user]][:, None, :]
        ).reshape(len(user), self.theme_cells.shape[1])
        themes = users.theme_taste[user].astype(np.float64)
        theme = _categorical(rng, themes * (class_region @ self.theme_cells_t))
        within = _categorical(rng, class_region * self.theme_cells[theme])
        cell = theme * class_region.shape[1] + within
        inner = self.cell_below[cell] + (1.0 - rng.random(len(user))) * self.cell_mass[cell]
        pos = _search(self.cell_cum, inner)
        pos = np.clip(pos, self.cell_start[cell], self.cell_end[cell] - 1)
        return np.asarray(self.by_cell[pos], dtype=np.int64)

    def _by_popularity(self, rng: np.random.Generator, user: Ints, ts: Floats) -> Ints:
        """Popular launched items; sensitive ones only for consenting customers."""
        launched = np.searchsorted(self.items.launch, ts, side="right")
        safe = ~self.users.consent[user] & (self.pop_safe[launched - 1] > 0)
        cum = np.where(safe, self.pop_safe[launched - 1], self.pop_all[launched - 1])
        target = (1.0 - rng.random(len(user))) * cum
        pick = np.empty(len(user), dtype=np.int64)
        pick[safe] = _search(self.pop_safe, target[safe])
        pick[~safe] = _search(self.pop_all, target[~safe])
        return np.minimum(pick, launched - 1)


@dataclass(frozen=True)
class DemoDataset:
    """A generated population: a pure function of its fields. Records are built on demand, so
    iterating again gives the same sequence and ``events()`` never holds more than a chunk."""

    n_users: int
    n_items: int
    n_events: int
    seed: int
    end: float  # epoch seconds of the newest event (the last one is stamped exactly this)

    @cached_property
    def _catalogue(self) -> Catalogue:
        return build_catalogue(self.n_items, self.seed, self.end)

    @cached_property
    def _customers(self) -> Customers:
        return build_customers(self.n_users, self.seed, self.end)

    @cached_property
    def _model(self) -> _EventModel:
        return _EventModel(self._catalogue, self._customers, self.seed, self.n_events, self.end)

    def _item_id(self, i: int) -> str:
        return f"P{i + 1:0{max(4, len(str(self.n_items)))}d}"

    def items(self) -> Iterator[ItemIn]:
        cat = self._catalogue
        validate = ItemIn.__pydantic_validator__.validate_python
        titles: Counter[str] = Counter()
        columns = zip(
            cat.asset_class.tolist(),
            cat.theme.tolist(),
            cat.region.tolist(),
            cat.risk.tolist(),
            cat.fee.tolist(),
            cat.launch.tolist(),
            cat.available.tolist(),
            cat.words.tolist(),
            cat.maturity.tolist(),
            strict=True,
        )
        for i, (ac, th, rg, risk, fee, launch, available, words, maturity) in enumerate(columns):
            asset_class, theme, region = ASSET_CLASSES[ac], THEMES[th], REGIONS[rg]
            title = product_title(asset_class, theme, region, words, maturity)
            titles[title] += 1
            yield validate(
                {
                    "id": self._item_id(i),
                    "title": numbered(title, titles[title]),
                    "text": product_text(asset_class, theme, region, risk, fee),
                    "categories": [asset_class, theme],
                    "attributes": {
                        "asset_class": asset_class,
                        "risk": risk,
                        "theme": theme,
                        "region": region,
                        "fee": fee,
                        "launch_date": datetime.fromtimestamp(launch, UTC).date().isoformat(),
                    },
                    "available": available,
                    "created_at": launch,
                    "sensitive": ["crypto"] if asset_class == "crypto" else [],
                }
            )

    def users(self) -> Iterator[UserIn]:
        cus = self._customers
        validate = UserIn.__pydantic_validator__.validate_python
        tenure = np.floor((self.end - cus.created) / (YEAR_DAYS * DAY)).astype(np.int64)
        user_format = f"U{{:0{max(5, len(str(self.n_users)))}d}}"
        for start in range(0, self.n_users, CHUNK):
            block = slice(start, start + CHUNK)
            for u, age, risk, region, years, goals, consent, created in zip(
                range(start + 1, min(start + CHUNK, self.n_users) + 1),
                cus.age_band[block].tolist(),
                cus.risk_profile[block].tolist(),
                cus.region[block].tolist(),
                tenure[block].tolist(),
                cus.goals[block].tolist(),
                cus.consent[block].tolist(),
                cus.created[block].tolist(),
                strict=True,
            ):
                attributes = {
                    "age_band": AGE_BANDS[age],
                    "risk_profile": RISK_PROFILES[risk],
                    "region": USER_REGIONS[region],
                    "tenure_years": years,
                    "goals": [GOALS[g] for g in goals if g >= 0],
                }
                yield validate(
                    {
                        "id": user_format.format(u),
                        "attributes": attributes,
                        "consents": {"crypto": consent},
                        "created_at": created,
                    }
                )

    def events(self) -> Iterator[EventIn]:
        prefix = f"demo-{self.seed}-"
        user_format = f"U{{:0{max(5, len(str(self.n_users)))}d}}"
        item_ids = [self._item_id(i) for i in range(self.n_items)]
        names = np.array(EVENT_TYPES, dtype=object)
        new, put = EventIn.__new__, object.__setattr__
        for start in range(0, self.n_events, CHUNK):
            ch = self._model.chunk(start)
            values = ch.value.astype(object)
            values[ch.type != _PURCHASE] = None
            for i, u, it, kind, value, ts in zip(
                ch.index.tolist(),
                ch.user.tolist(),
                ch.item.tolist(),
                names[ch.type].tolist(),
                values.tolist(),
                ch.timestamp.tolist(),
                strict=True,
            ):
                # What EventIn.model_construct does, at a fifth of its cost (it is slower than
                # validating here): every value is valid by construction, and the tests
                # re-validate samples against EventIn.
                event = new(EventIn)
                put(
                    event,
                    "__dict__",
                    {
                        "message_id": prefix + str(i),
                        "user_id": user_format.format(u + 1),
                        "item_id": item_ids[it],
                        "type": kind,
                        "value": value,
                        "timestamp": ts,
                        "context": {},
                        "properties": {},
                    },
                )
                put(event, "__pydantic_fields_set__", set(_EVENT_FIELDS))
                put(event, "__pydantic_extra__", None)
                put(event, "__pydantic_private__", None)
                yield event


def generate_demo(
    n_users: int = 2000,
    n_items: int = 400,
    n_events: int = 60_000,
    seed: int = 7,
    end: float | None = None,
) -> DemoDataset:
    """Describe a demo population; nothing is drawn until records are asked for. ``end=None``
    means today at 00:00 UTC, so "the last 30 days" in a demo means the last 30 days."""
    for name, count, least in (
        ("n_users", n_users, 1),
        ("n_items", n_items, 1),
        ("n_events", n_events, 0),
        ("seed", seed, 0),
    ):
        if count < least:
            raise InvalidInput(f"{name} must be at least {least}, got {count}")
    if end is None:
        end = float(int(time.time() // DAY) * DAY)
    return DemoDataset(n_users, n_items, n_events, seed, float(end))
