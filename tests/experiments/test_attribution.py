"""The attribution rules: recommendation id first, then the item within the window, then the
user within the window."""

from __future__ import annotations

from launchpoint.experiments.attribution import Exposure, Outcome, attribute
from launchpoint.experiments.metrics import build_user_table
from launchpoint.experiments.spec import EventTypes

HOUR = 3600.0
EXPOSURES = [
    Exposure("r1", "ann", "A", 1000.0, ("i1", "i2")),
    Exposure("r2", "ann", "A", 1000.0 + 2 * HOUR, ("i2", "i3")),
    Exposure("r3", "bob", "B", 1000.0, ("i1",)),
]


def _one(outcome: Outcome, window: float = 24 * HOUR) -> tuple[str, str] | None:
    found = attribute(EXPOSURES, [outcome], window)
    return (found[0].exposure.recommendation_id, found[0].rule) if found else None


def test_a_recommendation_id_wins_whatever_the_time() -> None:
    late = Outcome("ann", "click", 1000.0 + 90 * 24 * HOUR, "i9", recommendation_id="r1")
    assert _one(late) == ("r1", "recommendation_id")


def test_an_unknown_or_foreign_recommendation_id_is_not_attributed() -> None:
    assert _one(Outcome("ann", "click", 1100.0, "i1", recommendation_id="elsewhere")) is None
    assert _one(Outcome("ann", "click", 1100.0, "i1", recommendation_id="r3")) is None


def test_without_an_id_the_latest_exposure_that_showed_the_item_in_the_window() -> None:
    assert _one(Outcome("ann", "click", 1000.0 + 3 * HOUR, "i2")) == ("r2", "item_window")
    assert _one(Outcome("ann", "click", 1000.0 + 3 * HOUR, "i1")) == ("r1", "item_window")
    assert _one(Outcome("ann", "click", 1000.0 + 3 * HOUR, "i1"), window=HOUR) is None
    assert _one(Outcome("ann", "click", 999.0, "i1")) is None  # before it was shown
    assert _one(Outcome("ann", "click", 1100.0, "never-shown")) is None
    assert _one(Outcome("cat", "click", 1100.0, "i1")) is None  # never exposed


def test_an_outcome_on_no_item_goes_to_the_latest_exposure_in_the_window() -> None:
    assert _one(Outcome("ann", "opt_out", 1000.0 + 5 * HOUR)) == ("r2", "user_window")
    assert _one(Outcome("ann", "opt_out", 1000.0 + 30 * HOUR), window=24 * HOUR) is None


def test_rows_from_the_tables_are_read_as_stored() -> None:
    exposure = Exposure.from_row(
        {
            "recommendation_id": "r",
            "user_id": "u",
            "surface": "home",
            "variant": "B",
            "created_at": 5,
            "items": [{"item_id": "y", "position": 1}, {"item_id": "x", "position": 0}],
        }
    )
    assert exposure.items == ("x", "y") and exposure.variant == "B"
    outcome = Outcome.from_row(
        {
            "user_id": "u",
            "item_id": "x",
            "type": "click",
            "value": None,
            "ts": 9,
            "context": {"recommendation_id": "r", "position": 0},
        }
    )
    assert outcome.recommendation_id == "r" and outcome.ts == 9.0


def test_the_user_table_sums_exposures_and_attributed_outcomes() -> None:
    outcomes = [
        Outcome("ann", "click", 1100.0, "i1", recommendation_id="r1"),
        Outcome("ann", "purchase", 1200.0, "i1"),
        Outcome("ann", "thumbs_down", 1300.0, "i2", recommendation_id="r1"),
        Outcome("bob", "click", 1100.0, "i1"),
        Outcome("bob", "opt_out", 1200.0),
        Outcome("ann", "view", 1100.0, "i1"),  # counts as nothing
    ]
    attributed = attribute(EXPOSURES, outcomes, 24 * HOUR)
    cats = {"i1": ["news"], "i2": ["news", "sport"], "i3": ["food"]}
    table = build_user_table(EXPOSURES, attributed, ["A", "B"], EventTypes(), cats)
    ann, bob = table.user_ids.index("ann"), table.user_ids.index("bob")
    col = table.columns
    assert table.counts() == [1, 1]
    assert (col["pages"][ann], col["impressions"][ann], col["clicks"][ann]) == (2, 4, 1)
    assert (col["conversions"][ann], col["engagement"][ann], col["negative"][ann]) == (1, 2, 1)
    assert col["categories_shown"][ann] == 2 + 3  # {news, sport} then {news, sport, food}
    assert (col["clicks"][bob], col["opted_out"][bob], col["opted_out"][ann]) == (1, 1, 0)
    only_a = build_user_table(EXPOSURES, attributed, ["A"], EventTypes(), cats)
    assert only_a.user_ids == ["ann"]
