"""Segment-compatible ingestion over the API: /v1/track, /v1/identify and /v1/batch."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from launchpoint.domain.segment_spec import MAX_BATCH_BYTES, MAX_CALL_BYTES
from launchpoint.engine import Launchpoint

T0 = "2024-05-01T12:00:00Z"
T0_EPOCH = 1714564800.0


def _ws() -> dict[str, str]:
    return {"X-Workspace": f"w{uuid.uuid4().hex[:12]}"}


def track(**fields: Any) -> dict[str, Any]:
    return {"userId": "u1", "event": "Product Viewed", "timestamp": T0, **fields}


def post(client: TestClient, path: str, body: Any, **kwargs: Any) -> dict[str, Any]:
    response = client.post(path, json=body, **kwargs)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    assert set(result) == {"received", "stored", "duplicates", "suppressed", "rejected"}
    assert result["received"] == result["stored"] + result["duplicates"] + len(result["rejected"])
    return result


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    inner: dict[str, Any] = body["error"]
    return inner


def stats(client: TestClient, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = client.get("/v1/stats", **kwargs).json()
    return out


def stored_events(launchpoint: Launchpoint) -> list[tuple[Any, ...]]:
    """(user_id, item_id, type, value, ts) of every stored event, oldest first."""
    store = launchpoint.workspace().store
    return [row for chunk in store.iter_event_tuples() for row in chunk]


# -- track -------------------------------------------------------------------------------------


def test_track_is_stored_as_an_event_and_answers_200(
    client: TestClient, launchpoint: Launchpoint
) -> None:
    body = track(messageId="m1", properties={"product_id": "p1", "price": 9.5, "currency": "EUR"})
    assert post(client, "/v1/track", body) == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "suppressed": 0,
        "rejected": [],
    }
    assert stored_events(launchpoint) == [("u1", "p1", "product_viewed", 9.5, T0_EPOCH)]
    assert stats(client)["events_by_type"] == {"product_viewed": 1}


def test_track_is_idempotent_by_message_id(client: TestClient) -> None:
    assert post(client, "/v1/track", track(messageId="m1"))["stored"] == 1
    again = post(client, "/v1/track", track(messageId="m1", event="Other", sentAt=T0))
    assert again == {"received": 1, "stored": 0, "duplicates": 1, "suppressed": 0, "rejected": []}
    assert stats(client)["events"] == 1


def test_segment_and_native_events_share_one_message_id_space(client: TestClient) -> None:
    native = {"message_id": "m1", "user_id": "u1", "type": "view", "timestamp": T0}
    assert client.post("/v1/events", json=native).status_code == 201
    assert post(client, "/v1/track", track(messageId="m1"))["duplicates"] == 1
    assert stats(client)["events"] == 1


def test_a_retry_without_message_id_counts_once_though_its_sent_at_changed(
    client: TestClient,
) -> None:
    first = track(sentAt="2024-05-01T12:00:01Z")
    assert post(client, "/v1/track", first)["stored"] == 1
    retry = track(sentAt="2024-05-01T12:05:00Z")
    assert post(client, "/v1/track", retry)["duplicates"] == 1
    assert stats(client)["events"] == 1


def test_clock_skew_is_corrected_from_sent_at(client: TestClient, launchpoint: Launchpoint) -> None:
    # The device says it sent the call 60 s after the event: the event happened 60 s before
    # receipt, whatever the device's clock says.
    before = time.time()
    post(client, "/v1/track", track(messageId="skewed", sentAt="2024-05-01T12:01:00Z"))
    after = time.time()
    post(client, "/v1/track", track(messageId="as-given", event="Click"))
    by_type = {row[2]: row[4] for row in stored_events(launchpoint)}
    assert before - 60 <= by_type["product_viewed"] <= after - 60
    assert by_type["click"] == T0_EPOCH


def test_an_anonymous_track_is_stored_under_its_anonymous_id(client: TestClient) -> None:
    body = {"anonymousId": "anon-7", "event": "Click", "messageId": "a1"}
    assert post(client, "/v1/track", body)["stored"] == 1
    assert client.get("/v1/users/anon-7").status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"event": "Click"}, "body"),
        ({"userId": "u1"}, "body.event"),
        ({"userId": "u1", "event": "404 Page"}, "body.event"),
        ({"userId": "u1", "event": "Click", "timestamp": "soon"}, "body.timestamp"),
        ({"userId": "u1", "event": "Click", "type": "identify"}, "body.type"),
    ],
)
def test_an_invalid_track_is_a_422_envelope_and_stores_nothing(
    client: TestClient, body: dict[str, Any], loc: str
) -> None:
    err = error(client.post("/v1/track", json=body), 422, "invalid_input")
    assert err["details"][0]["loc"] == loc, err
    assert stats(client)["events"] == 0


def test_an_item_id_that_is_no_valid_id_is_a_422_naming_the_property(client: TestClient) -> None:
    response = client.post("/v1/track", json=track(properties={"product_id": "x" * 300}))
    err = error(response, 422, "invalid_input")
    assert err["message"].startswith("properties.product_id:")


def test_a_track_over_32_kb_is_a_413_envelope(client: TestClient) -> None:
    response = client.post("/v1/track", json=track(properties={"x": "y" * MAX_CALL_BYTES}))
    err = error(response, 413, "payload_too_large")
    assert "32,768 bytes" in err["message"]
    assert stats(client)["events"] == 0


# -- identify ----------------------------------------------------------------------------------


def test_identify_merges_traits_and_keeps_consents_and_personalisation(client: TestClient) -> None:
    user = {
        "id": "u1",
        "attributes": {"plan": "free", "region": "eu"},
        "consents": {"crypto": True},
        "personalisation": False,
        "created_at": T0,
    }
    assert client.post("/v1/users", json=user).status_code == 201
    body = {"userId": "u1", "traits": {"plan": "pro", "email": "a@example.com"}}
    assert post(client, "/v1/identify", body) == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "suppressed": 0,
        "rejected": [],
    }
    after = client.get("/v1/users/u1").json()
    assert after == {
        "id": "u1",
        "attributes": {"plan": "pro", "region": "eu", "email": "a@example.com"},
        "consents": {"crypto": True},
        "personalisation": False,
        "created_at": T0,
    }


def test_identify_creates_an_unknown_user(client: TestClient) -> None:
    post(client, "/v1/identify", {"userId": "new", "traits": {"role": "analyst"}})
    user = client.get("/v1/users/new").json()
    assert user["attributes"] == {"role": "analyst"} and user["personalisation"] is True
    assert stats(client)["users"] == 1


def test_an_identify_without_a_user_is_a_422(client: TestClient) -> None:
    err = error(client.post("/v1/identify", json={"traits": {"a": 1}}), 422, "invalid_input")
    assert "userId or an anonymousId" in err["message"]


# -- batch -------------------------------------------------------------------------------------


def _call(kind: str = "track", **fields: Any) -> dict[str, Any]:
    if kind == "track":
        return {"type": "track", **track(**fields)}
    return {"type": kind, "userId": "u1", **fields}


def test_a_batch_stores_tracks_and_identifies(client: TestClient) -> None:
    batch = {
        "batch": [
            _call(messageId="a", properties={"item_id": "i1"}),
            _call("identify", traits={"tier": "gold"}),
            _call(messageId="b", event="Purchase", properties={"item_id": "i1", "revenue": 20}),
        ]
    }
    assert post(client, "/v1/batch", batch) == {
        "received": 3,
        "stored": 3,
        "duplicates": 0,
        "suppressed": 0,
        "rejected": [],
    }
    assert stats(client)["events_by_type"] == {"product_viewed": 1, "purchase": 1}
    assert client.get("/v1/users/u1").json()["attributes"] == {"tier": "gold"}


def test_a_retried_batch_never_counts_twice(client: TestClient) -> None:
    batch = {"batch": [_call(messageId=f"m{k}") for k in range(5)] + [_call(messageId="m0")]}
    first = post(client, "/v1/batch", batch)
    assert (first["stored"], first["duplicates"]) == (5, 1)
    retry = post(client, "/v1/batch", batch)
    assert (retry["stored"], retry["duplicates"]) == (0, 6)
    assert stats(client)["events"] == 5


def test_bad_calls_are_rejected_by_index_and_the_valid_ones_stored(client: TestClient) -> None:
    calls = [
        _call(messageId="ok-0"),
        _call(messageId="bad-1", userId=None),
        "not a call",
        _call("page", name="Home"),
        _call(messageId="big-4", properties={"x": "y" * MAX_CALL_BYTES}),
        _call(messageId="ok-5", event="Click"),
        _call("identify", traits={"a": 1}, timestamp="whenever"),
        _call(messageId="bad-7", event="!!!"),
    ]
    result = post(client, "/v1/batch", {"batch": calls})
    assert (result["received"], result["stored"], result["duplicates"]) == (8, 2, 0)
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 6, 7]
    assert "userId or an anonymousId" in reasons[1]
    assert "JSON object" in reasons[2]
    assert "'track' or 'identify'" in reasons[3]
    assert "at most 32,768" in reasons[4]
    assert reasons[6].startswith("timestamp:")
    assert reasons[7].startswith("event:")
    assert stats(client)["events_by_type"] == {"click": 1, "product_viewed": 1}
    assert client.get("/v1/users/u1").json()["attributes"] == {}  # the bad identify did nothing


def test_a_call_with_nan_is_rejected_and_the_others_stored(client: TestClient) -> None:
    # Python's JSON parser reads NaN; PostgreSQL refuses it in a JSON column.
    body = (
        b'{"batch": [{"type": "track", "userId": "u1", "event": "A", "properties": {"x": NaN}},'
        b' {"type": "track", "userId": "u1", "event": "B", "timestamp": "2024-05-01T12:00:00Z"}]}'
    )
    response = client.post("/v1/batch", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [
        {"index": 0, "reason": "NaN and Infinity are not JSON numbers; send null or a string"}
    ]
    assert stats(client)["events_by_type"] == {"b": 1}
    single = b'{"userId": "u1", "event": "C", "context": {"x": Infinity}}'
    response = client.post(
        "/v1/track", content=single, headers={"content-type": "application/json"}
    )
    error(response, 422, "invalid_input")


def test_a_batch_where_nothing_is_accepted_is_a_422_listing_every_call(client: TestClient) -> None:
    response = client.post("/v1/batch", json={"batch": [1, _call(event="")]})
    err = error(response, 422, "invalid_input")
    assert [(d["loc"], d["index"]) for d in err["details"]] == [
        ("body.batch[0]", 0),
        ("body.batch[1]", 1),
    ]
    assert "(and 1 more)" in err["message"]
    assert stats(client)["events"] == 0


def test_an_empty_batch_is_fine(client: TestClient) -> None:
    assert post(client, "/v1/batch", {"batch": []})["received"] == 0


@pytest.mark.parametrize("body", [[1, 2], {"events": []}, {"batch": "x"}, {"batch": {}}])
def test_a_body_that_is_not_a_batch_is_a_422_envelope(client: TestClient, body: Any) -> None:
    err = error(client.post("/v1/batch", json=body), 422, "invalid_input")
    assert err["message"].startswith("body")


def test_a_batch_over_500_kb_is_a_413_and_stores_nothing(client: TestClient) -> None:
    calls = [_call(messageId=f"m{k}", properties={"x": "y" * 20_000}) for k in range(30)]
    assert len(json.dumps({"batch": calls})) > MAX_BATCH_BYTES
    err = error(client.post("/v1/batch", json={"batch": calls}), 413, "payload_too_large")
    assert "512,000 bytes" in err["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bytes are counted
        yield json.dumps({"batch": calls}).encode()

    streamed = client.post(
        "/v1/batch", content=chunks(), headers={"content-type": "application/json"}
    )
    error(streamed, 413, "payload_too_large")
    assert stats(client)["events"] == 0


def test_a_batch_just_under_500_kb_is_accepted(client: TestClient) -> None:
    calls = [_call(messageId=f"m{k}", properties={"x": "y" * 24_000}) for k in range(20)]
    assert 400_000 < len(json.dumps({"batch": calls})) < MAX_BATCH_BYTES
    assert post(client, "/v1/batch", {"batch": calls})["stored"] == 20


def test_the_batch_sent_at_and_context_apply_to_its_calls(
    client: TestClient, launchpoint: Launchpoint
) -> None:
    before = time.time()
    body = {
        "sentAt": "2024-05-01T12:10:00Z",
        "context": {"library": {"name": "analytics-python"}},
        "batch": [_call(messageId="a"), _call(messageId="b", event="Click", sentAt=T0)],
    }
    post(client, "/v1/batch", body)
    after = time.time()
    by_type = {row[2]: row[4] for row in stored_events(launchpoint)}
    assert before - 600 <= by_type["product_viewed"] <= after - 600
    assert before <= by_type["click"] <= after


def test_identifies_in_a_batch_apply_in_order(client: TestClient) -> None:
    client.post("/v1/users", json={"id": "u1", "attributes": {"keep": 1}, "consents": {"c": True}})
    calls = [
        _call("identify", traits={"a": 1, "b": 1}),
        _call(messageId="t"),
        _call("identify", traits={"b": 2}),
    ]
    assert post(client, "/v1/batch", {"batch": calls})["stored"] == 3
    user = client.get("/v1/users/u1").json()
    assert user["attributes"] == {"keep": 1, "a": 1, "b": 2}
    assert user["consents"] == {"c": True}


def test_an_answered_batch_is_committed(client: TestClient, launchpoint: Launchpoint) -> None:
    post(client, "/v1/batch", {"batch": [_call(messageId=f"m{k}") for k in range(3)]})
    # A second handle on the database, as another process would have, sees every event.
    other = Launchpoint(launchpoint.settings, migrate=False)
    try:
        assert other.workspace().stats()["events"] == 3
    finally:
        other.close()


def test_segment_routes_act_on_the_workspace_of_the_header(client: TestClient) -> None:
    a, b = _ws(), _ws()
    for headers in (a, b):
        assert (
            post(client, "/v1/batch", {"batch": [_call(messageId="m1")]}, headers=headers)["stored"]
            == 1
        )
    post(client, "/v1/identify", {"userId": "u1", "traits": {"ws": "a"}}, headers=a)
    assert client.get("/v1/users/u1", headers=b).json()["attributes"] == {}
    assert stats(client)["events"] == 0
