"""Which segments a user is in and why; which users are in a segment."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _load(client: TestClient) -> None:
    users = [{"id": f"u{n:02d}", "attributes": {"age": n}} for n in range(30)]
    assert client.post("/v1/users/batch", json={"users": users}).status_code == 201
    events = [{"user_id": "u05", "type": "click", "message_id": f"c{n}"} for n in range(3)]
    assert client.post("/v1/events/batch", json={"events": events}).status_code == 201
    segments = [
        {"id": "adults", "priority": 1, "users": "age >= 18 and age < 65", "min_items": 0},
        {"id": "clickers", "priority": 2, "users": "count(event = 'click') >= 2",
         "min_users": 1, "min_items": 0},
        {"id": "gone", "priority": 3, "users": "true", "status": "archived"},
    ]  # fmt: skip
    assert client.post("/v1/apply", json={"segments": segments}).status_code == 200


def test_a_users_segments_say_why(client: TestClient) -> None:
    _load(client)
    body = client.get("/v1/users/u05/segments").json()
    assert body["user_id"] == "u05"
    by_id = {s["segment_id"]: s for s in body["segments"]}
    assert list(by_id) == ["adults", "clickers"]  # archived segments are not listed
    adults = by_id["adults"]
    assert adults["member"] is False and adults["qualifies"] is False  # 12 members < 20
    assert [(c["text"], c["matched"], c["values"]) for c in adults["why"]["clauses"]] == [
        ("age >= 18", False, {"age": 5}),
        ("age < 65", True, {"age": 5}),
    ]
    clickers = by_id["clickers"]
    assert clickers["member"] is True and clickers["qualifies"] is True
    assert clickers["why"]["clauses"][0]["values"] == {"count(event = 'click')": 3}


def test_members_are_paged_in_id_order(client: TestClient) -> None:
    _load(client)
    first = client.get("/v1/segments/adults/members", params={"limit": 5}).json()
    assert first["total"] == 12 and first["members"] == ["u18", "u19", "u20", "u21", "u22"]
    rest = client.get("/v1/segments/adults/members", params={"offset": 10, "limit": 5}).json()
    assert rest["members"] == ["u28", "u29"]
    assert client.get("/v1/segments/gone/members").json()["total"] == 0


def test_unknown_ids_are_404s(client: TestClient) -> None:
    _load(client)
    assert client.get("/v1/users/nobody/segments").json()["error"]["code"] == "not_found"
    assert client.get("/v1/segments/nothing/members").json()["error"]["code"] == "not_found"
    bad = client.get("/v1/segments/adults/members", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
