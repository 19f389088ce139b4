"""Segment's calls mapped onto Launchpoint's records: names, ids, values, clock skew, batches."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from launchpoint.domain.segment_spec import (
    KEPT_KEY,
    MAX_CALL_BYTES,
    BatchCall,
    IdentifyCall,
    TrackCall,
    call_size,
    corrected_timestamp,
    event_type,
    fold_identifies,
    identify_to_user,
    plan_batch,
    track_to_event,
)
from launchpoint.errors import InvalidInput

T0 = 1714564800.0  # 2024-05-01T12:00:00Z
NOW = T0 + 3600


def track(**fields: Any) -> TrackCall:
    return TrackCall.model_validate({"userId": "u1", "event": "Product Viewed", **fields})


def event_of(**fields: Any) -> Any:
    return track_to_event(track(**fields), received_at=NOW)


# -- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Product Viewed", "product_viewed"),
        ("product_viewed", "product_viewed"),
        ("  Order   Completed!  ", "order_completed"),
        ("Added-to-Cart", "added_to_cart"),
        ("Purchase", "purchase"),
        ("thumbs up", "thumbs_up"),
        ("Produit consulté", "produit_consulte"),
        ("Signed Up (v2)", "signed_up_v2"),
    ],
)
def test_event_names_become_lowercase_words(name: str, expected: str) -> None:
    assert event_type(name) == expected


@pytest.mark.parametrize("name", ["404 Page", "!!!", "", "x" * 65, "日本"])
def test_event_names_that_give_no_valid_type_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="must start with a letter"):
        event_type(name)


def test_a_track_call_with_a_bad_event_name_is_refused_at_the_event_field() -> None:
    with pytest.raises(ValidationError) as info:
        track(event="404 Page")
    assert info.value.errors()[0]["loc"] == ("event",)


# -- item id, value, properties, context -------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "item_id"),
    [
        ({"item_id": "a", "product_id": "b", "id": "c"}, "a"),
        ({"product_id": "b", "id": "c"}, "b"),
        ({"id": "c"}, "c"),
        ({"product_id": 42}, "42"),
        ({"item_id": "  ", "product_id": "b"}, "b"),
        ({"item_id": None, "id": "c"}, "c"),
        ({"item_id": True, "id": {"x": 1}}, None),
        ({"sku": "z"}, None),
    ],
)
def test_the_item_id_comes_from_item_id_then_product_id_then_id(
    properties: dict[str, Any], item_id: str | None
) -> None:
    assert event_of(properties=properties).item_id == item_id


@pytest.mark.parametrize(
    ("properties", "value"),
    [
        ({"value": 1, "revenue": 2, "rating": 3, "price": 4}, 1.0),
        ({"revenue": 2, "rating": 3, "price": 4}, 2.0),
        ({"rating": 3, "price": 4}, 3.0),
        ({"price": 4.5}, 4.5),
        ({"price": "9.99"}, 9.99),
        ({"value": "lots", "price": 4}, 4.0),
        ({"value": True, "price": 4}, 4.0),
        ({"value": 10**400, "price": 4}, 4.0),
        ({"quantity": 2}, None),
    ],
)
def test_the_value_comes_from_value_then_revenue_rating_price(
    properties: dict[str, Any], value: float | None
) -> None:
    assert event_of(properties=properties).value == value


def test_properties_are_kept_as_sent_and_context_as_context() -> None:
    properties = {"product_id": "p1", "price": 3, "currency": "EUR", "nested": {"a": [1]}}
    event = event_of(properties=properties, context={"ip": "10.0.0.1", "surface": "home"})
    assert event.properties == properties
    assert event.context == {"ip": "10.0.0.1", "surface": "home"}
    assert (event.user_id, event.type, event.item_id, event.value) == (
        "u1",
        "product_viewed",
        "p1",
        3,
    )


def test_fields_without_a_column_are_kept_in_the_context_but_not_the_write_key() -> None:
    event = event_of(
        anonymousId="anon-1",
        integrations={"All": False},
        channel="server",
        writeKey="secret",
        timestamp=T0,
    )
    assert event.context == {
        KEPT_KEY: {"anonymousId": "anon-1", "integrations": {"All": False}, "channel": "server"}
    }
    assert "secret" not in json.dumps(event.model_dump())


def test_an_anonymous_call_uses_the_anonymous_id_as_the_user() -> None:
    event = track_to_event(
        TrackCall.model_validate({"anonymousId": "anon-1", "event": "Click"}), received_at=NOW
    )
    assert event.user_id == "anon-1" and KEPT_KEY not in event.context
    both = event_of(anonymousId="anon-1", userId="u9")
    assert both.user_id == "u9"
    blank = TrackCall.model_validate({"userId": " ", "anonymousId": "anon-2", "event": "Click"})
    assert track_to_event(blank, received_at=NOW).user_id == "anon-2"


@pytest.mark.parametrize(
    "fields",
    [
        {"event": "Click"},
        {"event": "Click", "userId": "", "anonymousId": None},
        {"userId": "u1"},
        {"userId": "u1", "event": ""},
        {"userId": "team/ribbons", "event": "Click"},
        {"userId": "u" * 257, "event": "Click"},
        {"userId": "u1", "event": "Click", "timestamp": "yesterday"},
        {"userId": "u1", "event": "Click", "properties": [1]},
        {"userId": "u1", "event": "Click", "messageId": "a\nb"},
        {"userId": "u1", "event": "Click", "type": "identify"},
    ],
)
def test_invalid_track_calls_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrackCall.model_validate(fields)


@pytest.mark.parametrize("stamp", [10**400, 1e300, -1e15, 2.6e14, "2.6e14"])
def test_timestamps_out_of_any_calendar_are_refused_not_crashed_on(stamp: Any) -> None:
    with pytest.raises(ValidationError, match="between the years 1 and 9999"):
        TrackCall.model_validate({"userId": "u", "event": "e", "timestamp": stamp})


@pytest.mark.parametrize(
    "fields",
    [
        {"properties": {"x": float("nan")}},
        {"context": {"page": {"y": [float("inf")]}}},
        {"timestamp": float("-inf")},
        {"extra": float("nan")},
    ],
)
def test_nan_and_infinity_anywhere_are_refused(fields: dict[str, Any]) -> None:
    # Python's JSON parser accepts them; PostgreSQL would refuse to store them.
    with pytest.raises(ValidationError, match="NaN and Infinity are not JSON numbers"):
        track(**fields)
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        IdentifyCall.model_validate({"userId": "u", "traits": {"x": float("nan")}})
    with pytest.raises(ValidationError, match="NaN and Infinity"):
        BatchCall.model_validate({"batch": [], "context": {"x": float("inf")}})


def test_an_item_id_that_is_not_a_valid_id_is_reported_at_its_property() -> None:
    with pytest.raises(InvalidInput) as info:
        event_of(properties={"product_id": "x" * 300})
    assert info.value.message.startswith("properties.product_id:")


# -- time --------------------------------------------------------------------------------------


def test_clock_skew_is_corrected_by_segments_rule() -> None:
    # The device's clock is 10 minutes fast: it says it sent at NOW + 600.
    assert corrected_timestamp(T0 + 600, NOW + 600, NOW) == T0
    assert corrected_timestamp(T0, None, NOW) == T0  # no sentAt: as given
    assert corrected_timestamp(None, NOW + 600, NOW) == NOW  # no timestamp: on receipt
    assert corrected_timestamp(None, None, NOW) == NOW


def test_a_track_call_gets_the_corrected_timestamp_and_keeps_the_originals() -> None:
    event = event_of(timestamp="2024-05-01T12:10:00Z", sentAt="2024-05-01T13:10:00Z")
    assert event.timestamp == T0  # 12:10 by a clock 10 minutes fast, received at 13:00
    assert event.context[KEPT_KEY] == {
        "originalTimestamp": "2024-05-01T12:10:00Z",
        "sentAt": "2024-05-01T13:10:00Z",
    }
    assert event_of(timestamp=T0).timestamp == T0
    assert event_of().timestamp == NOW


def test_the_batch_sent_at_applies_where_a_call_has_none() -> None:
    batch = BatchCall.model_validate(
        {
            "sentAt": NOW + 60,
            "batch": [
                {"type": "track", "userId": "u", "event": "a", "timestamp": T0 + 60},
                {"type": "track", "userId": "u", "event": "b", "timestamp": T0, "sentAt": NOW},
            ],
        }
    )
    plan = plan_batch(batch, received_at=NOW)
    assert [e.timestamp for _, e in plan.events] == [T0, T0]


def test_a_correction_that_leaves_the_calendar_is_refused() -> None:
    call = track(timestamp="9000-01-01T00:00:00Z", sentAt="0001-01-02T00:00:00Z")
    with pytest.raises(InvalidInput, match="sentAt"):
        track_to_event(call, received_at=NOW)


# -- idempotency -------------------------------------------------------------------------------


def test_the_message_id_is_the_idempotency_key() -> None:
    assert event_of(messageId="m-1").resolved_message_id() == "m-1"


def test_without_a_message_id_a_retry_gets_the_same_id_whatever_its_sent_at() -> None:
    first = track_to_event(track(timestamp=T0, sentAt=T0 + 5), received_at=T0 + 6)
    retry = track_to_event(track(timestamp=T0, sentAt=T0 + 500), received_at=T0 + 502)
    assert first.timestamp != retry.timestamp  # each corrected by its own skew
    assert first.resolved_message_id() == retry.resolved_message_id()
    other = track_to_event(track(timestamp=T0, event="Other"), received_at=T0)
    assert other.resolved_message_id() != first.resolved_message_id()


def test_without_a_message_id_or_timestamp_each_call_is_a_new_event() -> None:
    first = track_to_event(track(), received_at=NOW)
    later = track_to_event(track(), received_at=NOW + 1)
    assert first.resolved_message_id() != later.resolved_message_id()


# -- identify ----------------------------------------------------------------------------------


def test_identify_merges_traits_over_stored_attributes_and_keeps_consents() -> None:
    stored = {
        "id": "u1",
        "attributes": {"plan": "free", "region": "eu"},
        "consents": {"crypto": True},
        "personalisation": False,
    }
    call = IdentifyCall.model_validate(
        {"userId": "u1", "traits": {"plan": "pro", "email": "a@b.c", "region": None}}
    )
    user = identify_to_user(call, stored)
    assert user.attributes == {"plan": "pro", "region": None, "email": "a@b.c"}
    assert user.consents == {"crypto": True} and user.personalisation is False
    assert user.created_at is None  # the stored one is kept by the store


def test_identify_of_a_new_user_gives_the_defaults() -> None:
    user = identify_to_user(IdentifyCall.model_validate({"anonymousId": "a1", "traits": None}))
    assert (user.id, user.attributes, user.consents, user.personalisation) == ("a1", {}, {}, True)


def test_identifies_are_folded_in_order_per_user() -> None:
    calls = [
        (0, IdentifyCall.model_validate({"userId": "u1", "traits": {"a": 1, "b": 1}})),
        (1, IdentifyCall.model_validate({"userId": "u2", "traits": {"a": 2}})),
        (2, IdentifyCall.model_validate({"userId": "u1", "traits": {"b": 2}})),
    ]
    stored = {"u1": {"attributes": {"c": 0}, "consents": {"x": True}, "personalisation": True}}
    users, rejected = fold_identifies(calls, stored)
    assert rejected == []
    assert {u.id: u.attributes for u in users} == {"u1": {"c": 0, "a": 1, "b": 2}, "u2": {"a": 2}}
    assert next(u for u in users if u.id == "u1").consents == {"x": True}


# -- batches -----------------------------------------------------------------------------------


def test_a_batch_is_sorted_into_events_identifies_and_rejections_by_index() -> None:
    big = {"type": "track", "userId": "u", "event": "e", "properties": {"x": "y" * MAX_CALL_BYTES}}
    batch = BatchCall.model_validate(
        {
            "context": {"library": {"name": "x"}, "ip": "1.1.1.1"},
            "batch": [
                {"type": "track", "userId": "u", "event": "View", "context": {"ip": "2.2.2.2"}},
                "not a call",
                {"type": "page", "userId": "u", "name": "Home"},
                {"userId": "u", "event": "no type"},
                {"type": "identify", "userId": "u", "traits": {"a": 1}},
                big,
                {"type": "track", "event": "nobody"},
                None,
            ],
        }
    )
    plan = plan_batch(batch, received_at=NOW)
    assert [i for i, _ in plan.events] == [0]
    assert plan.events[0][1].context == {"library": {"name": "x"}, "ip": "2.2.2.2"}
    assert [i for i, _ in plan.identifies] == [4]
    reasons = {r.index: r.reason for r in plan.rejected}
    assert sorted(reasons) == [1, 2, 3, 5, 6, 7]
    assert reasons[1] == "a call is a JSON object, not a string"
    assert reasons[2] == "type must be 'track' or 'identify', not 'page'"
    assert reasons[3] == "type must be 'track' or 'identify', not null"
    assert "a call may be at most 32,768" in reasons[5]
    assert "userId or an anonymousId" in reasons[6]
    assert reasons[7] == "a call is a JSON object, not null"


def test_a_call_size_is_its_compact_utf8_json() -> None:
    call = {"a": "é", "b": [1, 2]}
    assert call_size(call) == len('{"a":"é","b":[1,2]}'.encode())


def test_a_call_of_exactly_the_limit_is_accepted() -> None:
    call = {"type": "track", "userId": "u", "event": "e", "properties": {"x": ""}}
    call["properties"]["x"] = "y" * (MAX_CALL_BYTES - call_size(call))
    assert call_size(call) == MAX_CALL_BYTES
    plan = plan_batch(BatchCall(batch=[call, {**call, "userId": "v", "z": 1}]), received_at=NOW)
    assert [i for i, _ in plan.events] == [0] and [r.index for r in plan.rejected] == [1]


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_calls = st.one_of(
    _json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["track", "identify", "page", 1])},
        optional={
            "userId": st.one_of(st.text(max_size=5), st.integers(), st.none()),
            "anonymousId": st.text(max_size=5),
            "event": st.one_of(st.text(max_size=10), st.integers()),
            "messageId": st.text(max_size=5),
            "timestamp": st.one_of(st.floats(), st.integers(), st.text(max_size=5)),
            "sentAt": st.one_of(st.floats(), st.text(max_size=5)),
            "properties": _json_values,
            "traits": _json_values,
            "context": _json_values,
        },
    ),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_calls, max_size=6))
def test_every_call_of_any_batch_is_stored_or_rejected_exactly_once(calls: list[Any]) -> None:
    plan = plan_batch(BatchCall(batch=calls), received_at=NOW)
    _, refused = fold_identifies(plan.identifies, {})
    indexes = [i for i, _ in plan.events] + [i for i, _ in plan.identifies]
    indexes += [r.index for r in plan.rejected]
    assert sorted(indexes) == list(range(len(calls)))
    assert refused == []  # an identify that validates always maps onto a user
    assert all(r.reason for r in plan.rejected)
