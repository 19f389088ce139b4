"""The demo's products and customers as numpy columns, including each customer's hidden tastes.

Everything is drawn vectorised from seeded streams so a million customers take a second, and
the hidden tastes (persona, asset-class appetite) never leave this module as attributes: the
engine has to discover them from behaviour, as it would with real customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from launchpoint.demo.names import ASSET_CLASSES, REGIONS, THEMES

DAY = 86_400.0
YEAR_DAYS = 365.25
Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
RISK_PROFILES = ("cautious", "balanced", "growth", "aggressive")
USER_REGIONS = REGIONS[:3]  # customers live somewhere; "global" is a product's reach only
GOALS = ("retirement", "house", "wealth", "income", "education", "rainy_day")
CRYPTO = ASSET_CLASSES.index("crypto")

# Products: class shares, then theme, region, risk band and fee range per class
# (rows follow ASSET_CLASSES: equity, etf, bond, fund, crypto, savings).
_CLASS_SHARE = [0.30, 0.22, 0.14, 0.20, 0.06, 0.08]
_THEME_GIVEN_CLASS = np.array(
    [
        [0.12, 0.22, 0.14, 0.14, 0.08, 0.08, 0.12, 0.10],
        [0.14, 0.14, 0.08, 0.12, 0.12, 0.08, 0.08, 0.24],
        [0.18, 0.06, 0.04, 0.16, 0.14, 0.08, 0.08, 0.26],
        [0.16, 0.12, 0.10, 0.16, 0.10, 0.08, 0.06, 0.22],
        [0.08, 0.62, 0.00, 0.00, 0.00, 0.00, 0.10, 0.20],
        [0.25, 0.00, 0.00, 0.25, 0.00, 0.00, 0.00, 0.50],
    ]
)
_REGION_GIVEN_CLASS = np.array(
    [
        [0.38, 0.34, 0.23, 0.05],
        [0.30, 0.20, 0.15, 0.35],
        [0.30, 0.20, 0.15, 0.35],
        [0.30, 0.20, 0.15, 0.35],
        [0.00, 0.00, 0.00, 1.00],
        [0.50, 0.30, 0.20, 0.00],
    ]
)
_RISK_RANGE = np.array([[4, 6], [3, 6], [2, 4], [3, 5], [6, 7], [1, 1]])
_RISK_BUMP = np.array([0, 1, 0, -1, 1, 0, 0, 0])  # tech, emerging markets hotter; dividends calmer
_FEE_RANGE = np.array([[0, 0], [0.05, 0.45], [0.05, 0.35], [0.45, 1.75], [0.9, 2.5], [0, 0]])

# Customers: age mix, then risk profile, goals and hidden persona by age.
_AGE_SHARE = [0.10, 0.24, 0.23, 0.18, 0.14, 0.11]
_RISK_GIVEN_AGE = np.array(
    [
        [0.10, 0.30, 0.35, 0.25],
        [0.10, 0.32, 0.38, 0.20],
        [0.15, 0.38, 0.34, 0.13],
        [0.22, 0.42, 0.28, 0.08],
        [0.35, 0.42, 0.18, 0.05],
        [0.50, 0.36, 0.11, 0.03],
    ]
)
_GOALS_GIVEN_AGE = np.array(
    [
        [0.03, 0.35, 0.30, 0.02, 0.10, 0.20],
        [0.08, 0.35, 0.27, 0.03, 0.12, 0.15],
        [0.20, 0.18, 0.28, 0.07, 0.17, 0.10],
        [0.38, 0.07, 0.27, 0.12, 0.10, 0.06],
        [0.55, 0.03, 0.17, 0.20, 0.01, 0.04],
        [0.35, 0.02, 0.15, 0.43, 0.01, 0.04],
    ]
)
_TENURE_CAP = np.array([4, 12, 20, 25, 25, 25])
_WEALTH_BY_AGE = np.array([0.3, 0.7, 1.0, 1.4, 1.8, 1.6])
_CONSENT_BY_RISK = np.array([0.08, 0.22, 0.42, 0.65])
# Personas: green, tech, income, global core, frontier, health. Each is a theme profile.
_PERSONA_THEMES = np.array(
    [
        [4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.5],
        [0.0, 4.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 4.0, 0.0, 2.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.8, 0.6, 0.0, 0.0, 3.5],
        [0.0, 0.8, 0.0, 0.0, 3.5, 0.0, 2.0, 0.0],
        [0.0, 1.0, 3.5, 0.5, 0.0, 0.0, 0.0, 0.0],
    ]
)
_PERSONA_GIVEN_AGE = np.array(
    [
        [0.20, 0.30, 0.05, 0.20, 0.15, 0.10],
        [0.20, 0.30, 0.05, 0.20, 0.15, 0.10],
        [0.18, 0.20, 0.15, 0.25, 0.10, 0.12],
        [0.18, 0.20, 0.15, 0.25, 0.10, 0.12],
        [0.15, 0.07, 0.38, 0.25, 0.05, 0.10],
        [0.15, 0.07, 0.38, 0.25, 0.05, 0.10],
    ]
)
_PERSONA_LIFT_BY_GOAL = np.array(
    [
        [1.0, 1.0, 1.5, 1.5, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.3, 1.0, 1.0],
        [1.0, 1.3, 1.0, 1.0, 1.3, 1.0],
        [1.0, 1.0, 3.0, 1.0, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.3, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ]
)
# Appetite per asset class (equity, etf, bond, fund, crypto, savings) by risk profile.
_CLASS_BY_RISK = np.array(
    [
        [0.30, 0.80, 3.00, 2.00, 0.15, 3.50],
        [1.00, 2.00, 1.50, 2.50, 0.30, 1.00],
        [2.50, 2.50, 0.50, 1.50, 0.80, 0.30],
        [3.50, 2.00, 0.20, 0.80, 2.50, 0.15],
    ]
)


def rng_for(seed: int, stream: int, *more: int) -> np.random.Generator:
    """Independent stream per purpose (and per chunk), so one part never shifts another."""
    return np.random.default_rng([seed, stream, *more])


def draw_rows(rng: np.random.Generator, table: Floats, rows: Ints) -> Ints:
    """One categorical draw per element, from the probability row ``table[rows]``."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[rows]
    picked = (rng.random(len(rows))[:, None] >= cum).sum(axis=1)
    return np.asarray(np.minimum(picked, table.shape[1] - 1), dtype=np.int64)


def midnight(epoch: Floats) -> Floats:
    return np.floor(epoch / DAY) * DAY


@dataclass(frozen=True)
class Catalogue:
    """Products in launch order (P0001 is the oldest); indices point into the name tuples."""

    asset_class: Ints
    theme: Ints
    region: Ints
    risk: Ints
    fee: Floats
    launch: Floats  # epoch seconds, midnight UTC
    available: NDArray[np.bool_]
    popularity: Floats  # Zipf-like weight, hidden
    words: Ints  # (n, 3) draws for the title's word choices
    maturity: Ints  # bond maturity year (ignored for other classes)


def build_catalogue(n_items: int, seed: int, end: float) -> Catalogue:
    rng = rng_for(seed, 1)
    n = n_items
    asset_class = rng.choice(len(ASSET_CLASSES), n, p=_CLASS_SHARE).astype(np.int64)
    theme = draw_rows(rng, _THEME_GIVEN_CLASS, asset_class)
    region = draw_rows(rng, _REGION_GIVEN_CLASS, asset_class)
    lo, hi = _RISK_RANGE[asset_class, 0], _RISK_RANGE[asset_class, 1]
    risk = np.clip(rng.integers(lo, hi + 1) + _RISK_BUMP[theme], lo, hi).astype(np.int64)
    fee_lo, fee_hi = _FEE_RANGE[asset_class, 0], _FEE_RANGE[asset_class, 1]
    fee = np.round(fee_lo + rng.random(n) * (fee_hi - fee_lo), 2)
    # A few launches inside the activity window keep "new this month" ribbons non-empty.
    age_days = np.where(
        rng.random(n) < 0.07, rng.uniform(1.0, 180.0, n), 180.0 + rng.exponential(6 * 365.0, n)
    )
    age_days = np.minimum(age_days, np.where(asset_class == CRYPTO, 10 * 365.0, 30 * 365.0))
    launch = midnight(end - age_days * DAY)
    available = rng.random(n) >= 0.03
    zipf = 1.0 / (rng.permutation(n) + 1.0)
    popularity = np.asarray(zipf * np.where(available, 1.0, 0.3), dtype=np.float64)
    words = rng.integers(0, 2**31, (n, 3))
    year = int(1970 + end // (YEAR_DAYS * DAY))
    maturity = year + rng.integers(2, 26, n)
    order = np.argsort(launch, kind="stable")
    launch = launch[order]
    launch[0] = min(launch[0], float(midnight(np.array([end - 400 * DAY]))[0]))
    return Catalogue(
        asset_class[order],
        theme[order],
        region[order],
        risk[order],
        fee[order],
        launch,
        available[order],
        popularity[order],
        words[order],
        maturity[order],
    )


@dataclass(frozen=True)
class Customers:
    """Customers in sign-up order (U00001 joined first), with hidden tastes normalised so each
    customer's favourite theme and asset class weigh 1."""

    age_band: Ints
    risk_profile: Ints
    region: Ints
    goals: Ints  # (n, 2); -1 where a customer has one goal
    consent: NDArray[np.bool_]  # crypto
    created: Floats
    activity: Floats  # relative event rate, heavy-tailed
    theme_taste: NDArray[np.float32]  # (n, len(THEMES))
    class_taste: NDArray[np.float32]  # (n, len(ASSET_CLASSES))
    wealth: Floats


def build_customers(n_users: int, seed: int, end: float) -> Customers:
    rng = rng_for(seed, 2)
    n = n_users
    age = rng.choice(len(AGE_BANDS), n, p=_AGE_SHARE).astype(np.int64)
    risk = draw_rows(rng, _RISK_GIVEN_AGE, age)
    region = rng.choice(len(USER_REGIONS), n, p=[0.5, 0.3, 0.2]).astype(np.int64)
    tenure = np.minimum(np.floor(rng.exponential(3.5, n)), _TENURE_CAP[age])
    days_ago = np.maximum((tenure + rng.random(n)) * YEAR_DAYS, 1.0)
    created = np.round(end - days_ago * DAY)
    first = draw_rows(rng, _GOALS_GIVEN_AGE, age)
    second = draw_rows(rng, _GOALS_GIVEN_AGE, age)
    second = np.where((rng.random(n) < 0.45) & (second != first), second, -1)
    consent = rng.random(n) < _CONSENT_BY_RISK[risk]
    persona_table = _PERSONA_GIVEN_AGE[:, None, :] * _PERSONA_LIFT_BY_GOAL[None, :, :]
    n_personas = len(_PERSONA_THEMES)
    persona = draw_rows(rng, persona_table.reshape(-1, n_personas), age * len(GOALS) + first)
    themes = (0.25 + _PERSONA_THEMES[persona]) * rng.gamma(2.0, 0.5, (n, len(THEMES)))
    classes = _CLASS_BY_RISK[risk] * rng.gamma(3.0, 1 / 3, (n, len(ASSET_CLASSES)))
    # Customers who did not consent to crypto rarely seek it out, and dislike it when shown.
    classes[:, CRYPTO] *= np.where(consent, 1.0, 0.03)
    themes /= themes.max(axis=1, keepdims=True)
    classes /= classes.max(axis=1, keepdims=True)
    activity = rng.lognormal(0.0, 1.3, n)
    wealth = rng.lognormal(0.0, 0.6, n) * _WEALTH_BY_AGE[age]
    order = np.argsort(created, kind="stable")
    created = created[order]
    created[0] = min(created[0], round(end - 400 * DAY))
    return Customers(
        age[order],
        risk[order],
        region[order],
        np.stack([first, second], axis=1)[order],
        consent[order],
        created,
        activity[order],
        themes[order].astype(np.float32),
        classes[order].astype(np.float32),
        wealth[order],
    )
