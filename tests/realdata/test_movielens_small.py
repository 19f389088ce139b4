"""ml-latest-small end to end: import, genre segments, qualification, ribbons for any user."""

from __future__ import annotations

from pathlib import Path

import pytest

from launchpoint.domain import WorkspaceConfig
from launchpoint.engine import WorkspaceEngine
from launchpoint.importing import open_movielens
from launchpoint.importing.loader import load_sources
from launchpoint.ranking.ribbons import RibbonRequest

pytestmark = pytest.mark.realdata

GENRES = ["Drama", "Comedy", "Sci-Fi", "Horror", "Documentary"]


def _config() -> WorkspaceConfig:
    return WorkspaceConfig.model_validate(
        {
            "segments": [
                {
                    "id": g.lower(),
                    "name": f"{g} fans",
                    "priority": p,
                    "users": f"count(event = 'rate' and categories contains '{g}') >= 20",
                    "items": f"categories contains '{g}'",
                    "min_users": 20,
                    "min_items": 10,
                    "reason": "Popular with {name}",
                }
                for p, g in enumerate(GENRES, 1)
            ],
            "surfaces": {"home": {"layers": 2, "cards": 10, "fallback": "popular"}},
        }
    )


def _ratings_by_user_genre(root: Path) -> dict[str, dict[str, int]]:
    """An independent count, straight from the CSV files."""
    import csv

    with (root / "movies.csv").open(encoding="utf-8") as f:
        genres = {row["movieId"]: row["genres"].split("|") for row in csv.DictReader(f)}
    counts: dict[str, dict[str, int]] = {}
    with (root / "ratings.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            per_user = counts.setdefault(row["userId"], {})
            for g in genres[row["movieId"]]:
                per_user[g] = per_user.get(g, 0) + 1
    return counts


@pytest.fixture
def loaded(workspace: WorkspaceEngine, movielens_small: Path) -> WorkspaceEngine:
    summary = load_sources(workspace, open_movielens(movielens_small))
    assert summary.skipped == 0, summary.errors[:5]
    return workspace


def test_import_counts_and_idempotence(loaded: WorkspaceEngine, movielens_small: Path) -> None:
    stats = loaded.stats()
    assert (stats["items"], stats["users"]) == (9742, 610)
    assert stats["events_by_type"] == {"rate": 100_836, "tag": 3683}
    again = load_sources(loaded, open_movielens(movielens_small))
    assert again.loaded.get("events", 0) == 0
    assert again.duplicates == 100_836 + 3683
    assert loaded.stats() == stats


def test_genre_segments_report_and_ribbons(loaded: WorkspaceEngine, movielens_small: Path) -> None:
    result = loaded.apply(_config())
    report = {row.segment_id: row for row in result.report}
    expected = _ratings_by_user_genre(movielens_small)
    for genre in GENRES:
        members = sum(1 for per in expected.values() if per.get(genre, 0) >= 20)
        assert report[genre.lower()].members == members, genre
    assert report["drama"].qualifies and report["drama"].items > 4000
    assert (
        report["documentary"].users_test.startswith("N (<20 users)")
        or report["documentary"].qualifies
    )

    state = loaded.state()
    drama = next(s for s in state.segments if s.spec.id == "drama")
    for user_id in state.user_ids:  # every user gets an answer: ribbons or the fallback
        page = loaded.ribbons(RibbonRequest(user_id))
        assert page.ribbons, user_id
        rated = {state.item_ids[i] for i in state.consumed[state.user_index[user_id]].indices}
        for ribbon in page.ribbons:
            assert len(ribbon.cards) == 10
            assert not rated & {c.item_id for c in ribbon.cards}
        if drama.members[state.user_index[user_id]]:
            assert page.ribbons[0].segment_id == "drama"
            first = page.ribbons[0].cards[0]
            assert first.reason in ("Popular with Drama fans", "Because you like Drama") or (
                first.reason.startswith("Because you like ")
            )


def test_aggregate_segments_match_an_independent_count(
    loaded: WorkspaceEngine, movielens_small: Path
) -> None:
    """ "Rated at least 5 films in the last 90 days of the data" and friends, checked against a
    count straight from ratings.csv."""
    import csv

    with (movielens_small / "ratings.csv").open(encoding="utf-8") as f:
        rows = [(r["userId"], r["movieId"], float(r["rating"]), int(r["timestamp"]))
                for r in csv.DictReader(f)]  # fmt: skip
    end = max(r[3] for r in rows)
    recent: dict[str, int] = {}
    high_sum: dict[str, float] = {}
    for user, _movie, rating, stamp in rows:
        if stamp >= end - 90 * 86400:
            recent[user] = recent.get(user, 0) + 1
        if rating >= 4:
            high_sum[user] = high_sum.get(user, 0.0) + rating
    config = WorkspaceConfig.model_validate({"segments": [
        {"id": "recent", "users": "count(event = 'rate', within = '90d') >= 5", "min_users": 0},
        {"id": "lovers", "users": "sum(event = 'rate' and value >= 4) >= 400", "min_users": 0},
        {"id": "lapsed", "users": "last_seen(event = 'rate') < now() - 365d", "min_users": 0},
    ]})  # fmt: skip
    loaded.apply(config)
    state = loaded.state(now=float(end))
    members = {
        s.spec.id: {state.user_ids[i] for i in s.members.nonzero()[0]} for s in state.segments
    }
    assert members["recent"] == {u for u, n in recent.items() if n >= 5}
    assert members["lovers"] == {u for u, total in high_sum.items() if total >= 400}
    last: dict[str, int] = {}
    for user, _movie, _rating, stamp in rows:
        last[user] = max(last.get(user, 0), stamp)
    assert members["lapsed"] == {u for u, t in last.items() if t < end - 365 * 86400}
    assert members["recent"] and members["lovers"] and members["lapsed"]


def test_genre_aggregates_match_pandas(loaded: WorkspaceEngine, movielens_small: Path) -> None:
    """'Rates Sci-Fi more than Drama' and 'tagged a Sci-Fi film', against pandas joins of the
    raw files."""
    import pandas as pd

    ratings = pd.read_csv(movielens_small / "ratings.csv")
    movies = pd.read_csv(movielens_small / "movies.csv")
    tags = pd.read_csv(movielens_small / "tags.csv")
    genres = movies.assign(genre=movies["genres"].str.split("|")).explode("genre")
    rated = ratings.merge(genres[["movieId", "genre"]], on="movieId")
    per_genre = rated.pivot_table(
        index="userId", columns="genre", values="rating", aggfunc="count", fill_value=0
    )
    scifi_fans = {str(u) for u in per_genre.index[per_genre["Sci-Fi"] > per_genre["Drama"]]}
    tagged = tags.merge(genres[["movieId", "genre"]], on="movieId")
    scifi_taggers = {str(u) for u in tagged.loc[tagged["genre"] == "Sci-Fi", "userId"]}
    config = WorkspaceConfig.model_validate({"segments": [
        {"id": "scifi_over_drama", "min_users": 0, "users":
            "count(event = 'rate' and categories contains 'Sci-Fi') > "
            "count(event = 'rate' and categories contains 'Drama')"},
        {"id": "scifi_taggers", "min_users": 0,
         "users": "count(event = 'tag' and categories contains 'Sci-Fi') >= 1"},
    ]})  # fmt: skip
    loaded.apply(config)
    state = loaded.state(now=float(ratings["timestamp"].max()) + 1)
    members = {
        s.spec.id: {state.user_ids[i] for i in s.members.nonzero()[0]} for s in state.segments
    }
    assert members["scifi_over_drama"] == scifi_fans and scifi_fans
    assert members["scifi_taggers"] == scifi_taggers and scifi_taggers
