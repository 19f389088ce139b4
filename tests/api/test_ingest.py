"""Getting items, users and events in over the API: counts, idempotency, isolation."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

T0 = "2024-05-01T12:00:00Z"
T0_EPOCH = 1714564800


def _ws() -> dict[str, str]:
    return {"X-Workspace": f"w{uuid.uuid4().hex[:12]}"}


def ingest(client: TestClient, path: str, body: Any, **kwargs: Any) -> dict[str, int]:
    response = client.post(path, json=body, **kwargs)
    assert response.status_code == 201, response.text
    result: dict[str, int] = response.json()
    assert set(result) == {"received", "stored", "duplicates", "suppressed"}
    return result


def stats(client: TestClient, **kwargs: Any) -> dict[str, Any]:
    response = client.get("/v1/stats", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _is_iso_utc(text: Any) -> bool:
    if not isinstance(text, str) or not text.endswith("Z"):
        return False
    datetime.fromisoformat(text.replace("Z", "+00:00"))
    return True


# -- items and users ---------------------------------------------------------------------------


def test_items_one_and_batch_are_stored_and_counted(client: TestClient) -> None:
    assert ingest(client, "/v1/items", {"id": "i1", "title": "One"}) == {
        "received": 1,
        "stored": 1,
        "duplicates": 0,
        "suppressed": 0,
    }
    batch = {"items": [{"id": f"b{k}", "title": f"Batch {k}"} for k in range(5)]}
    assert ingest(client, "/v1/items/batch", batch) == {
        "received": 5,
        "stored": 5,
        "duplicates": 0,
        "suppressed": 0,
    }
    assert stats(client)["items"] == 6


def test_posting_an_item_again_replaces_it_without_adding_one(client: TestClient) -> None:
    ingest(client, "/v1/items", {"id": "i1", "title": "Old", "categories": ["a"]})
    ingest(
        client, "/v1/items", {"id": "i1", "title": "New", "categories": "b|c", "available": False}
    )
    assert stats(client)["items"] == 1
    item = client.get("/v1/items/i1").json()
    assert (item["title"], item["categories"], item["available"]) == ("New", ["b", "c"], False)


def test_a_batch_repeating_an_item_id_keeps_the_last_version(client: TestClient) -> None:
    batch = {"items": [{"id": "r", "title": "first"}, {"id": "r", "title": "last"}]}
    result = ingest(client, "/v1/items/batch", batch)
    assert result["received"] == 2 and result["stored"] == 1
    assert client.get("/v1/items/r").json()["title"] == "last"
    assert stats(client)["items"] == 1


def test_users_one_and_batch_are_stored_and_counted(client: TestClient) -> None:
    ingest(client, "/v1/users", {"id": "u1", "attributes": {"region": "eu"}})
    result = ingest(client, "/v1/users/batch", {"users": [{"id": "u2"}, {"id": "u3"}]})
    assert result == {"received": 2, "stored": 2, "duplicates": 0, "suppressed": 0}
    assert stats(client)["users"] == 3


def test_get_item_shows_iso_times_and_no_workspace(client: TestClient) -> None:
    ingest(
        client,
        "/v1/items",
        {
            "id": "i1",
            "title": "Heat",
            "text": "A heist.",
            "categories": ["crime"],
            "attributes": {"year": 1995},
            "created_at": T0,
            "sensitive": ["violence"],
        },
    )
    response = client.get("/v1/items/i1")
    assert response.status_code == 200
    item = response.json()
    assert "workspace_id" not in item
    assert item == {
        "id": "i1",
        "title": "Heat",
        "text": "A heist.",
        "categories": ["crime"],
        "attributes": {"year": 1995},
        "available": True,
        "created_at": T0,
        "sensitive": ["violence"],
    }


@pytest.mark.parametrize("created", [T0_EPOCH, T0_EPOCH * 1000, "2024-05-01T14:00:00+02:00", T0])
def test_every_time_form_comes_back_as_the_same_iso_utc(client: TestClient, created: Any) -> None:
    ingest(client, "/v1/users", {"id": "u1", "created_at": created})
    assert client.get("/v1/users/u1").json()["created_at"] == T0


def test_get_user_shows_iso_times_and_no_workspace(client: TestClient) -> None:
    ingest(
        client,
        "/v1/users",
        {
            "id": "u1",
            "attributes": {"role": "analyst"},
            "consents": {"crypto": True},
            "personalisation": False,
        },
    )
    user = client.get("/v1/users/u1").json()
    assert "workspace_id" not in user
    assert _is_iso_utc(user["created_at"])  # defaulted to now, shown as ISO
    assert {k: v for k, v in user.items() if k != "created_at"} == {
        "id": "u1",
        "attributes": {"role": "analyst"},
        "consents": {"crypto": True},
        "personalisation": False,
    }


def test_odd_but_printable_ids_round_trip_through_the_url(client: TestClient) -> None:
    for item_id in ("a b", "what?#", "ünïcode", "x" * 256):
        ingest(client, "/v1/items", {"id": item_id, "title": item_id[:10]})
        response = client.get(f"/v1/items/{quote(item_id, safe='')}")
        assert response.status_code == 200, (item_id, response.text)
        assert response.json()["id"] == item_id


def test_ids_with_a_slash_can_be_read_back(client: TestClient) -> None:
    ingest(client, "/v1/items", {"id": "shelf/1", "title": "slash"})
    ingest(client, "/v1/users", {"id": "org/alice", "attributes": {"team": "a"}})
    for path in ("/v1/items/shelf%2F1", "/v1/items/shelf/1"):
        response = client.get(path)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == "shelf/1"
    assert client.get("/v1/users/org/alice").json()["attributes"] == {"team": "a"}
    page = client.get("/v1/users/org%2Falice/ribbons")
    assert page.status_code == 200, page.text
    assert page.json()["user_id"] == "org/alice"
    assert client.get("/v1/items/shelf/2").status_code == 404


# -- events ------------------------------------------------------------------------------------


def _event(**fields: Any) -> dict[str, Any]:
    return {"user_id": "u1", "item_id": "i1", "type": "view", "timestamp": T0, **fields}


def test_one_event_and_a_batch_are_stored_and_counted(client: TestClient) -> None:
    assert ingest(client, "/v1/events", _event(message_id="m0"))["stored"] == 1
    batch = {"events": [_event(message_id=f"m{k}", type="click") for k in range(1, 4)]}
    assert ingest(client, "/v1/events/batch", batch) == {
        "received": 3,
        "stored": 3,
        "duplicates": 0,
        "suppressed": 0,
    }
    assert stats(client)["events"] == 4


def test_events_are_idempotent_by_message_id(client: TestClient) -> None:
    assert ingest(client, "/v1/events", _event(message_id="m1"))["stored"] == 1
    again = ingest(client, "/v1/events", _event(message_id="m1"))
    assert again == {"received": 1, "stored": 0, "duplicates": 1, "suppressed": 0}
    # The message id is the key: a different body under the same id is still the same message.
    changed = ingest(client, "/v1/events", _event(message_id="m1", type="click", value=3))
    assert changed["duplicates"] == 1
    assert stats(client)["events"] == 1
    assert stats(client)["events_by_type"] == {"view": 1}


def test_events_without_message_id_are_idempotent_by_their_content(client: TestClient) -> None:
    assert ingest(client, "/v1/events", _event())["stored"] == 1
    assert ingest(client, "/v1/events", _event()) == {
        "received": 1,
        "stored": 0,
        "duplicates": 1,
        "suppressed": 0,
    }
    # The same instant written another way is the same event.
    for same in (T0_EPOCH, T0_EPOCH * 1000, "2024-05-01T14:00:00+02:00"):
        assert ingest(client, "/v1/events", _event(timestamp=same))["duplicates"] == 1, same
    # Any difference in content makes it another event.
    assert ingest(client, "/v1/events", _event(timestamp=T0_EPOCH + 1))["stored"] == 1
    assert ingest(client, "/v1/events", _event(type="click"))["stored"] == 1
    assert ingest(client, "/v1/events", _event(value=2.0))["stored"] == 1
    assert ingest(client, "/v1/events", _event(properties={"q": "x"}))["stored"] == 1
    assert stats(client)["events"] == 5


def test_a_batch_with_a_repeated_message_id_stores_it_once(client: TestClient) -> None:
    batch = {
        "events": [
            _event(message_id="a"),
            _event(message_id="b", type="click"),
            _event(message_id="a", type="save"),
        ]
    }
    assert ingest(client, "/v1/events/batch", batch) == {
        "received": 3,
        "stored": 2,
        "duplicates": 1,
        "suppressed": 0,
    }
    assert stats(client)["events_by_type"] == {"click": 1, "view": 1}  # the first 'a' wins
    second = {"events": [_event(message_id="b"), _event(message_id="c")]}
    assert ingest(client, "/v1/events/batch", second) == {
        "received": 2,
        "stored": 1,
        "duplicates": 1,
        "suppressed": 0,
    }


def test_a_batch_with_repeated_content_and_no_message_ids_stores_it_once(
    client: TestClient,
) -> None:
    batch = {"events": [_event(), _event(), _event(type="like")]}
    assert ingest(client, "/v1/events/batch", batch) == {
        "received": 3,
        "stored": 2,
        "duplicates": 1,
        "suppressed": 0,
    }


def test_an_event_for_an_unknown_user_creates_that_user(client: TestClient) -> None:
    ingest(client, "/v1/events", _event(user_id="track-first"))
    response = client.get("/v1/users/track-first")
    assert response.status_code == 200
    assert response.json()["attributes"] == {} and response.json()["personalisation"] is True
    assert stats(client)["users"] == 1


def test_an_event_does_not_overwrite_a_known_user(client: TestClient) -> None:
    ingest(client, "/v1/users", {"id": "u1", "attributes": {"tier": "gold"}, "created_at": T0})
    ingest(client, "/v1/events", _event())
    user = client.get("/v1/users/u1").json()
    assert user["attributes"] == {"tier": "gold"} and user["created_at"] == T0


def test_stats_count_everything_and_events_by_type(client: TestClient) -> None:
    empty = stats(client)
    assert {k: empty[k] for k in ("items", "users", "events", "segments")} == {
        "items": 0,
        "users": 0,
        "events": 0,
        "segments": 0,
    }
    assert empty["events_by_type"] == {}
    assert empty["first_event_at"] is None and empty["last_event_at"] is None

    ingest(client, "/v1/items/batch", {"items": [{"id": "i1"}, {"id": "i2"}]})
    ingest(client, "/v1/users/batch", {"users": [{"id": "u1"}, {"id": "u2"}, {"id": "u3"}]})
    events = [
        _event(type="view", timestamp="2024-05-01T00:00:00Z"),
        _event(type="view", item_id="i2"),
        _event(type="click"),
        _event(type="purchase", user_id="u2", value=9.5, timestamp="2024-06-30T23:59:59Z"),
        _event(type="search", item_id=None, properties={"q": "bonds"}),
    ]
    ingest(client, "/v1/events/batch", {"events": events})
    out = stats(client)
    assert out["workspace"] == client.app.state.launchpoint.settings.workspace  # type: ignore[attr-defined]
    assert (out["items"], out["users"], out["events"]) == (2, 3, 5)
    assert out["events_by_type"] == {"click": 1, "purchase": 1, "search": 1, "view": 2}
    assert out["first_event_at"] == "2024-05-01T00:00:00Z"
    assert out["last_event_at"] == "2024-06-30T23:59:59Z"


def test_event_types_are_normalised_to_lowercase(client: TestClient) -> None:
    ingest(client, "/v1/events", _event(type=" Click "))
    assert stats(client)["events_by_type"] == {"click": 1}


# -- workspaces --------------------------------------------------------------------------------


def test_workspaces_are_isolated_and_ids_can_repeat_across_them(client: TestClient) -> None:
    a, b = _ws(), _ws()
    ingest(client, "/v1/items", {"id": "i1", "title": "in A"}, headers=a)
    ingest(client, "/v1/items", {"id": "i1", "title": "in B"}, headers=b)
    ingest(client, "/v1/items", {"id": "only-a", "title": "A only"}, headers=a)
    ingest(client, "/v1/users", {"id": "u1", "attributes": {"ws": "a"}}, headers=a)
    ingest(client, "/v1/users", {"id": "u1", "attributes": {"ws": "b"}}, headers=b)
    # The same message id is a new event in another workspace, not a duplicate.
    assert ingest(client, "/v1/events", _event(message_id="m1"), headers=a)["stored"] == 1
    assert ingest(client, "/v1/events", _event(message_id="m1"), headers=b)["stored"] == 1
    assert (
        ingest(client, "/v1/events", _event(message_id="m2", type="click"), headers=b)["stored"]
        == 1
    )

    assert client.get("/v1/items/i1", headers=a).json()["title"] == "in A"
    assert client.get("/v1/items/i1", headers=b).json()["title"] == "in B"
    assert client.get("/v1/users/u1", headers=b).json()["attributes"] == {"ws": "b"}
    assert client.get("/v1/items/only-a", headers=b).status_code == 404

    sa, sb = stats(client, headers=a), stats(client, headers=b)
    assert (sa["workspace"], sb["workspace"]) == (a["X-Workspace"], b["X-Workspace"])
    assert (sa["items"], sa["users"], sa["events"]) == (2, 1, 1)
    assert (sb["items"], sb["users"], sb["events"]) == (1, 1, 2)
    assert sa["events_by_type"] == {"view": 1}
    assert sb["events_by_type"] == {"click": 1, "view": 1}
    # ...and neither leaked into the default workspace of this client.
    default = stats(client)
    assert (default["items"], default["users"], default["events"]) == (0, 0, 0)


def test_segments_and_surfaces_are_per_workspace(client: TestClient) -> None:
    a, b = _ws(), _ws()
    response = client.post("/v1/segments", json={"id": "s1", "name": "In A"}, headers=a)
    assert response.status_code == 201, response.text
    assert client.put("/v1/surfaces/email", json={"layers": 3}, headers=a).status_code == 200
    assert client.get("/v1/segments", headers=b).json() == {"segments": []}
    assert client.get("/v1/segments/s1", headers=b).status_code == 404
    assert client.get("/v1/surfaces", headers=b).json() == {"surfaces": {}}
    assert [s["id"] for s in client.get("/v1/segments", headers=a).json()["segments"]] == ["s1"]
    assert stats(client, headers=a)["segments"] == 1
    assert stats(client, headers=b)["segments"] == 0


def test_a_user_id_ending_in_ribbons_is_refused_not_lost(client: TestClient) -> None:
    # Such an id could never be read back: /v1/users/{id}/ribbons would claim it.
    response = client.post("/v1/users", json={"id": "team/ribbons", "attributes": {"k": 1}})
    assert response.status_code == 422
    assert "may not end with '/ribbons'" in response.json()["error"]["message"]
    assert client.get("/v1/stats").json()["users"] == 0
