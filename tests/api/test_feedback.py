"""The feedback loop through the API: an event in, and the very next ribbons answer changed."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from launchpoint.engine import Launchpoint

EVERYONE = {
    "id": "everyone",
    "name": "Everyone",
    "priority": 1,
    "users": "id is not null",
    "items": "id is not null",
    "min_users": 0,
    "min_items": 0,
    "title": "For you",
}


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(path, json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def cards(client: TestClient, user: str, n: int = 30) -> list[str]:
    response = client.get(f"/v1/users/{user}/ribbons", params={"cards": n})
    assert response.status_code == 200, response.text
    ribbons = response.json()["ribbons"]
    return [c["item_id"] for c in ribbons[0]["cards"]] if ribbons else []


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    items = [
        {"id": f"{shelf}{n:02d}", "title": f"{shelf} {n}", "categories": [shelf]}
        for shelf in ("a", "b", "c")
        for n in range(12)
    ]
    post(client, "/v1/items/batch", {"items": items})
    post(client, "/v1/users", {"id": "u"})
    post(client, "/v1/segments", EVERYONE)
    now = time.time() - 60
    for item in ("a00", "b00"):
        post(
            client,
            "/v1/events",
            {"user_id": "u", "item_id": item, "type": "click", "timestamp": now},
        )
    return client


def event(client: TestClient, kind: str, item: str) -> None:
    post(client, "/v1/events", {"user_id": "u", "item_id": item, "type": kind})


@pytest.mark.parametrize("kind", ["dismiss", "purchase"])
def test_a_dismissed_or_bought_item_is_gone_from_the_next_answer(
    shop: TestClient, kind: str
) -> None:
    shown = cards(shop, "u")
    top = shown[0]
    event(shop, kind, top)
    assert top not in cards(shop, "u")


def test_a_thumbs_down_demotes_its_topic(shop: TestClient) -> None:
    before = cards(shop, "u")
    assert before.index("b00") < 3  # a and b are liked alike
    event(shop, "thumbs_down", "b01")
    after = cards(shop, "u")
    a_items = [i for i in after if i.startswith("a")]
    assert after[: len(a_items)] == a_items  # every a before any b
    assert max(after.index(i) for i in after if i.startswith("b")) > len(a_items)


def test_a_save_lifts_its_category(shop: TestClient) -> None:
    assert [i for i in cards(shop, "u")[:5] if i.startswith("c")] == []
    event(shop, "save", "c05")
    top = cards(shop, "u")[:5]
    assert len([i for i in top if i.startswith("c")]) >= 3


def test_events_are_taken_in_without_rebuilding(shop: TestClient) -> None:
    lp: Launchpoint = shop.app.state.launchpoint  # type: ignore[attr-defined]
    ws = lp.workspace()
    cards(shop, "u")
    state = ws.state()
    event(shop, "dismiss", "a03")
    assert ws.state() is state
    assert "a03" not in cards(shop, "u")
    assert ws.state() is state


def test_items_written_through_the_api_change_the_next_page_without_a_rebuild(
    shop: TestClient,
) -> None:
    lp: Launchpoint = shop.app.state.launchpoint  # type: ignore[attr-defined]
    ws = lp.workspace()
    first, second = cards(shop, "u")[:2]
    built = ws.state().built_at

    def item(item_id: str, **fields: Any) -> None:
        body = {"id": item_id, "title": item_id, "categories": [item_id[0]], **fields}
        post(shop, "/v1/items/batch", {"items": [body]})

    item(first, available=False)
    assert first not in cards(shop, "u")  # off sale: gone at once
    item(second, sensitive=["gambling"])
    assert second not in cards(shop, "u")  # u did not consent to the topic
    item(first)
    assert first in cards(shop, "u")  # back on sale
    item("a99", created_at=time.time())
    assert "a99" in cards(shop, "u", 40)  # a new item is served (cold: no popularity yet)
    assert ws.state().built_at == built  # every write taken in, none rebuilt


def test_a_user_the_state_does_not_know_yet_is_picked_up_without_rebuilding(
    shop: TestClient,
) -> None:
    lp: Launchpoint = shop.app.state.launchpoint  # type: ignore[attr-defined]
    ws = lp.workspace()
    cards(shop, "u")
    state = ws.state()
    post(shop, "/v1/events", {"user_id": "newcomer", "item_id": "c01", "type": "save"})
    assert ws.state() is state
    page = shop.get("/v1/users/newcomer/ribbons", params={"cards": 30}).json()
    shown = page["ribbons"][0]["cards"]
    reasons = {card["item_id"]: card["reason"] for card in shown}
    assert shown[0]["item_id"] == "c01"  # saved by the newcomer: popular, and liked
    assert reasons["c01"] == "Popular with Everyone"  # the save counted at once
    assert {i: r for i, r in reasons.items() if i.startswith("c") and i != "c01"} == {
        f"c{n:02d}": "Because you like c" for n in range(12) if n != 1
    }
    assert reasons["b01"] == "Popular with Everyone"
