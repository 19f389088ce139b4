from __future__ import annotations

import pytest

from launchpoint.errors import InvalidInput
from launchpoint.storage import normalise_url


def test_postgres_urls_use_psycopg() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_urls_say_what_is_allowed(url: str) -> None:
    with pytest.raises(InvalidInput, match="sqlite"):
        normalise_url(url)
