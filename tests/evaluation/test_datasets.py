from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from launchpoint.errors import InvalidInput
from launchpoint.evaluation.datasets import movielens_log


def test_a_small_movielens_folder_becomes_a_signed_log(tmp_path: Path) -> None:
    (tmp_path / "movies.csv").write_text(
        "movieId,title,genres\n10,Alien (1979),Horror|Sci-Fi\n2,Heat (1995),(no genres listed)\n"
    )
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n7,10,5.0,100\n3,2,2.0,50\n7,2,3.5,200\n"
    )
    (tmp_path / "tags.csv").write_text("userId,movieId,tag,timestamp\n7,10,space,100\n")
    log = movielens_log(tmp_path)
    assert log.user_ids == ("3", "7") and log.item_ids == ("10", "2")
    assert log.items.tolist() == [0, 1, 1] and log.users.tolist() == [1, 0, 1]
    np.testing.assert_allclose(log.weights, [2.5, -1.5, 1.0])
    assert log.metadata.categories == (("Horror", "Sci-Fi"), ())
    assert log.metadata.texts == ("space", "")
    with pytest.raises(InvalidInput, match=r"ratings\.csv"):
        movielens_log(tmp_path / "missing")
