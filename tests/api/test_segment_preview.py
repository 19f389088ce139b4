"""A segment previewed before it is stored, and its history with what changed."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _load(client: TestClient) -> None:
    users = [{"id": f"u{n:02d}", "attributes": {"age": n}} for n in range(30)]
    items = [{"id": f"i{n}", "title": f"Item {n}", "attributes": {"kind": n % 2}} for n in range(6)]
    client.post("/v1/users/batch", json={"users": users})
    client.post("/v1/items/batch", json={"items": items})
    events = [{"user_id": f"u{n:02d}", "item_id": "i4", "type": "click", "message_id": f"e{n}"}
              for n in range(20, 30)]  # fmt: skip
    events.append({"user_id": "u21", "item_id": "i2", "type": "click", "message_id": "x"})
    client.post("/v1/events/batch", json={"events": events})


def test_preview_counts_samples_and_writes_nothing(client: TestClient) -> None:
    _load(client)
    spec = {"id": "older", "users": "age >= 20", "items": "kind = 0", "min_users": 5,
            "min_items": 2, "status": "draft"}  # fmt: skip
    response = client.post("/v1/segments/preview", json=spec, params={"sample": 3})
    assert response.status_code == 200, response.text
    body = response.json()
    q = body["qualification"]
    assert (q["members"], q["items"], q["qualifies"]) == (10, 3, True)  # judged as if active
    assert body["sample_members"] == ["u20", "u21", "u22"]
    assert body["sample_items"] == ["i4", "i2", "i0"]  # most popular with the members first
    assert client.get("/v1/segments").json()["segments"] == []


def test_preview_validates(client: TestClient) -> None:
    _load(client)
    bad = client.post("/v1/segments/preview", json={"id": "x", "users": "agge > 1"})
    assert bad.status_code == 422 and "did you mean 'age'" in bad.json()["error"]["message"]
    reserved = client.post("/v1/segments", json={"id": "preview"})
    assert reserved.status_code == 422 and "reserved" in reserved.json()["error"]["message"]


def test_history_says_what_changed_between_versions(client: TestClient) -> None:
    _load(client)
    client.post("/v1/segments", json={"id": "s", "users": "age > 1", "min_users": 1})
    client.post("/v1/segments", json={"id": "s", "users": "age > 2", "min_users": 1,
                                      "title": "Over two"})  # fmt: skip
    history = client.get("/v1/segments/s").json()["history"]
    assert [h["version"] for h in history] == [1, 2]
    assert history[0]["changes"] == []
    assert {c["field"]: (c["before"], c["after"]) for c in history[1]["changes"]} == {
        "users": ("age > 1", "age > 2"),
        "title": ("s", "Over two"),
    }
