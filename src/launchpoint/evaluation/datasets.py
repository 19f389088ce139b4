"""Public data sets read straight into an interaction log, for benchmarks and real-data tests.

Reading the CSVs directly (rather than importing them into a workspace) keeps a quality run to
seconds of loading; the importer (``launchpoint.importing``) is what a workspace uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from launchpoint.errors import InvalidInput
from launchpoint.recommenders.data import InteractionLog, ItemMetadata

NO_GENRES = "(no genres listed)"


def movielens_log(folder: Path, threshold: float = 3.5) -> InteractionLog:
    """ml-latest(-small): ratings as signed signals (r >= threshold weighs r - threshold + 1,
    below it r - threshold), genres as categories, and each movie's tags as its text."""
    import polars as pl

    folder = Path(folder)
    if not (folder / "ratings.csv").is_file() or not (folder / "movies.csv").is_file():
        raise InvalidInput(f"{folder} has no ratings.csv and movies.csv (ml-latest layout)")
    ratings = pl.read_csv(folder / "ratings.csv")
    movies = pl.read_csv(folder / "movies.csv")
    tag_text: dict[int, str] = {}
    if (folder / "tags.csv").is_file():
        tags = pl.read_csv(folder / "tags.csv").group_by("movieId").agg(pl.col("tag").str.join(" "))
        tag_text = dict(zip(tags["movieId"].to_list(), tags["tag"].to_list(), strict=True))
    movie_ids = movies["movieId"].to_numpy()
    genres = [[] if g == NO_GENRES else g.split("|") for g in movies["genres"].to_list()]
    metadata = ItemMetadata.build(
        titles=movies["title"].to_list(),
        texts=[tag_text.get(int(m), "") for m in movie_ids],
        categories=genres,
    )
    order = np.argsort(movie_ids, kind="stable")
    user_ids = np.unique(ratings["userId"].to_numpy())
    rating = ratings["rating"].to_numpy().astype(np.float64)
    weights = np.where(rating >= threshold, rating - threshold + 1.0, rating - threshold)
    position = np.searchsorted(movie_ids[order], ratings["movieId"].to_numpy())
    return InteractionLog(
        user_ids=tuple(str(u) for u in user_ids),
        item_ids=tuple(str(m) for m in movie_ids),
        users=np.searchsorted(user_ids, ratings["userId"].to_numpy()).astype(np.intp),
        items=order[position].astype(np.intp),
        weights=weights,
        timestamps=ratings["timestamp"].to_numpy().astype(np.float64),
        metadata=metadata,
    )
