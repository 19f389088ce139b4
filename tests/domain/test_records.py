from __future__ import annotations

import pytest
from pydantic import ValidationError

from launchpoint.domain import EventIn, ItemIn, UserIn


def test_user_ids_may_not_end_in_the_ribbons_route() -> None:
    with pytest.raises(ValidationError, match="ribbons"):
        UserIn(id="team/ribbons")
    with pytest.raises(ValidationError, match="ribbons"):
        EventIn(user_id="team/ribbons", type="view")
    assert UserIn(id="team/ribbon").id == "team/ribbon"


def test_numbers_become_string_ids_and_categories_split() -> None:
    item = ItemIn(id=42, categories="a| b |")  # type: ignore[arg-type]
    assert item.id == "42" and item.categories == ["a", "b"]


def test_timestamps_accept_iso_epoch_and_milliseconds() -> None:
    a = EventIn(user_id="u", type="view", timestamp="2024-01-01T00:00:00Z")
    b = EventIn(user_id="u", type="view", timestamp=1704067200)
    c = EventIn(user_id="u", type="view", timestamp=1704067200000)
    assert a.timestamp == b.timestamp == c.timestamp == 1704067200.0
    with pytest.raises(ValidationError, match="not a timestamp"):
        EventIn(user_id="u", type="view", timestamp="yesterday")


def test_event_types_are_lowercase_words() -> None:
    assert EventIn(user_id="u", type=" Click ").type == "click"
    with pytest.raises(ValidationError, match="lowercase word"):
        EventIn(user_id="u", type="add to cart")


def test_derived_message_ids_depend_on_content() -> None:
    one = EventIn(user_id="u", item_id="i", type="view", timestamp=1)
    same = EventIn(user_id="u", item_id="i", type="view", timestamp=1)
    other = EventIn(user_id="u", item_id="i", type="view", timestamp=2)
    assert one.resolved_message_id() == same.resolved_message_id()
    assert one.resolved_message_id() != other.resolved_message_id()
    assert EventIn(message_id="m", user_id="u", type="view").resolved_message_id() == "m"


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ItemIn(id="a", colour="red")  # type: ignore[call-arg]


def test_non_finite_numbers_and_absurd_times_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a JSON number"):
        EventIn(user_id="u", type="view", properties={"a": [1, float("nan")]})
    with pytest.raises(ValidationError, match="not a JSON number"):
        ItemIn(id="i", attributes={"x": {"y": float("inf")}})
    with pytest.raises(ValidationError, match="not a JSON number"):
        UserIn(id="u", attributes={"score": float("-inf")})
    with pytest.raises(ValidationError, match="finite number"):
        EventIn(user_id="u", type="rate", value=float("inf"))
    for bad in (float("inf"), 10**400, "9" * 30):
        with pytest.raises(ValidationError, match="between the years 1 and 9999"):
            EventIn(user_id="u", type="view", timestamp=bad)
    assert ItemIn(id="old", created_at="1927-03-01T00:00:00Z").created_at == -1351900800.0
