"""DESIGN.md section 1's worked example, through the API, exactly."""

from __future__ import annotations

from fastapi.testclient import TestClient

SEGMENTS = ["S1", "S2", "S3", "S4", "S5", "S6", "S7"]
# S2 and S5 fail both tests, S4 fails the item test; S1, S3, S6, S7 qualify.
MEMBERS = {"S1": 25, "S2": 5, "S3": 30, "S4": 25, "S5": 3, "S6": 22, "S7": 40}
ITEMS = {"S1": 12, "S2": 4, "S3": 15, "S4": 6, "S5": 2, "S6": 11, "S7": 20}
CUSTOMERS = {"A": ["S1", "S3", "S7"], "B": ["S3", "S6", "S7"], "C": []}


def _load(client: TestClient) -> None:
    users = []
    for seg, n in MEMBERS.items():
        users += [{"id": f"{seg}-m{k}", "attributes": {"groups": [seg]}} for k in range(n)]
    users += [{"id": cid, "attributes": {"groups": groups}} for cid, groups in CUSTOMERS.items()]
    assert client.post("/v1/users/batch", json={"users": users}).status_code == 201
    items = []
    for seg, n in ITEMS.items():
        items += [
            {"id": f"{seg}-i{k}", "title": f"{seg} item {k}", "attributes": {"shelf": seg}}
            for k in range(n)
        ]
    assert client.post("/v1/items/batch", json={"items": items}).status_code == 201
    segments = [
        {
            "id": seg,
            "name": f"Segment {seg}",
            "priority": p,
            "users": f"groups contains '{seg}'",
            "items": f"shelf = '{seg}'",
            "min_users": 20,
            "min_items": 10,
        }
        for p, seg in enumerate(SEGMENTS, 1)
    ]
    response = client.post("/v1/apply", json={"segments": segments})
    assert response.status_code == 200, response.text


def test_qualification_report_gives_the_reason_for_each_test(client: TestClient) -> None:
    _load(client)
    report = {row["segment_id"]: row for row in client.get("/v1/segments/report").json()}
    assert [s for s in SEGMENTS if report[s]["qualifies"]] == ["S1", "S3", "S6", "S7"]
    assert report["S2"]["users_test"] == "N (<20 users)"
    assert report["S2"]["items_test"] == "N (<10 items)"
    assert report["S5"]["users_test"] == "N (<20 users)"
    assert report["S5"]["items_test"] == "N (<10 items)"
    assert report["S4"]["users_test"] == "Y"
    assert report["S4"]["items_test"] == "N (<10 items)"
    assert report["S1"]["members"] == 26  # 25 plus customer A
    assert report["S7"]["members"] == 42  # 40 plus A and B


def test_two_layers_give_exactly_the_design_answer(client: TestClient) -> None:
    _load(client)

    def ribbons(user: str) -> list[str]:
        response = client.get(f"/v1/users/{user}/ribbons", params={"layers": 2})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["recommendation_id"]
        return [r["segment_id"] for r in body["ribbons"]]

    assert ribbons("A") == ["S1", "S3"]
    assert ribbons("B") == ["S3", "S6"]
    assert ribbons("C") == []


def test_cards_come_from_the_ribbon_segment_items(client: TestClient) -> None:
    _load(client)
    body = client.get("/v1/users/A/ribbons", params={"layers": 2, "cards": 5}).json()
    s1, s3 = body["ribbons"]
    assert s1["title"] == "Segment S1"
    assert len(s1["cards"]) == 5
    assert all(card["item_id"].startswith("S1-") for card in s1["cards"])
    assert all(card["item_id"].startswith("S3-") for card in s3["cards"])
    assert all(card["reason"] == "Popular with Segment S1" for card in s1["cards"])
    assert [c["position"] for c in s1["cards"]] == [0, 1, 2, 3, 4]
