"""User control through the API: see the profile, edit it, remove an inferred interest,
reset, switch personalisation (or kinds of it) off, consents, export and delete."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from launchpoint.engine import Launchpoint
from launchpoint.storage.tables import metadata

SEGMENTS = [
    {
        "id": "everyone",
        "name": "Everyone",
        "priority": 2,
        "users": "id is not null",
        "items": "id is not null",
        "min_users": 0,
        "min_items": 0,
        "title": "For you",
    },
    {
        "id": "northerners",
        "name": "North",
        "priority": 1,
        "users": "region = 'north'",
        "items": "id is not null",
        "min_users": 0,
        "min_items": 0,
        "title": "Near you",
    },
]


def call(client: TestClient, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def world(client: TestClient) -> TestClient:
    items = [
        {"id": f"{shelf}{n}", "title": f"{shelf} {n}", "categories": [shelf]}
        for shelf in ("jazz", "rock", "folk")
        for n in range(5)
    ]
    items.append({"id": "coin", "title": "Coin", "categories": ["jazz"], "sensitive": ["crypto"]})
    call(client, "POST", "/v1/items/batch", {"items": items}, 201)
    call(client, "POST", "/v1/users", {"id": "ann", "attributes": {"region": "north"}}, 201)
    call(
        client,
        "POST",
        "/v1/apply",
        {
            "segments": SEGMENTS,
            "surfaces": {"home": {"layers": 2, "cards": 20, "fallback": "popular"}},
        },
    )
    now = time.time() - 60
    events = [
        {"user_id": "ann", "item_id": item, "type": kind, "timestamp": now}
        for item, kind in [("jazz0", "save"), ("jazz1", "click"), ("rock0", "click")]
    ]
    call(client, "POST", "/v1/events/batch", {"events": events}, 201)
    return client


def ribbons(client: TestClient, user: str = "ann", surface: str = "home") -> dict[str, Any]:
    return call(client, "GET", f"/v1/users/{user}/ribbons?surface={surface}")  # type: ignore[no-any-return]


def test_the_profile_keeps_explicit_data_apart_from_inferred_interests(world: TestClient) -> None:
    profile = call(world, "GET", "/v1/users/ann/profile")
    assert profile["explicit"]["attributes"] == {"region": "north"}
    inferred = profile["inferred"]["interests"]
    assert [i["category"] for i in inferred] == ["jazz", "rock"]
    assert inferred[0]["summary"] == "Strong interest in jazz"
    assert profile["segments"] == ["northerners", "everyone"]
    assert profile["personalisation"] is True


def test_editing_explicit_data_changes_segments(world: TestClient) -> None:
    profile = call(
        world, "PATCH", "/v1/users/ann/profile", {"attributes": {"region": None, "plan": "pro"}}
    )
    assert profile["explicit"]["attributes"] == {"plan": "pro"}
    assert [r["segment_id"] for r in ribbons(world)["ribbons"]] == ["everyone"]


def test_removing_an_inferred_interest_stops_its_use(world: TestClient) -> None:
    before = {c["reason"] for r in ribbons(world)["ribbons"] for c in r["cards"]}
    assert "Because you like jazz" in before
    profile = call(world, "DELETE", "/v1/users/ann/profile/interests/jazz")
    assert [i["category"] for i in profile["inferred"]["interests"]] == ["rock"]
    assert profile["inferred"]["removed"] == ["jazz"]
    reasons = {c["reason"] for r in ribbons(world)["ribbons"] for c in r["cards"]}
    assert "Because you like jazz" not in reasons


def test_reset_starts_the_inferred_profile_over(world: TestClient) -> None:
    call(world, "DELETE", "/v1/users/ann/profile/interests/jazz")
    profile = call(world, "POST", "/v1/users/ann/profile/reset")
    assert profile["inferred"]["interests"] == []
    assert profile["inferred"]["removed"] == []
    assert profile["inferred"]["reset_at"] is not None
    assert profile["explicit"]["attributes"] == {"region": "north"}  # explicit data stays
    call(world, "POST", "/v1/events", {"user_id": "ann", "item_id": "folk1", "type": "save"}, 201)
    after = call(world, "GET", "/v1/users/ann/profile")
    assert [i["category"] for i in after["inferred"]["interests"]] == ["folk"]


def test_personalisation_off_gives_the_non_personalised_experience(world: TestClient) -> None:
    call(world, "PUT", "/v1/users/ann/personalisation", {"enabled": False})
    page = ribbons(world)
    assert page["fallback_used"] is True
    assert [r["kind"] for r in page["ribbons"]] == ["fallback"]
    call(world, "PUT", "/v1/users/ann/personalisation", {"enabled": True})
    assert ribbons(world)["fallback_used"] is False


def test_opting_out_of_single_kinds(world: TestClient) -> None:
    profile = call(
        world,
        "PUT",
        "/v1/users/ann/personalisation",
        {"opt_outs": ["location", "inferred_interests", "email"]},
    )
    assert profile["opt_outs"] == ["email", "inferred_interests", "location"]
    page = ribbons(world)
    assert [r["segment_id"] for r in page["ribbons"]] == ["everyone"]  # region unused
    reasons = {c["reason"] for r in page["ribbons"] for c in r["cards"]}
    assert not any(reason.startswith("Because you like") for reason in reasons)
    call(
        world, "PUT", "/v1/surfaces/email_weekly", {"layers": 1, "cards": 5, "fallback": "popular"}
    )
    assert ribbons(world, surface="email_weekly")["fallback_used"] is True


def test_an_unknown_opt_out_is_refused_and_changes_nothing(world: TestClient) -> None:
    body = call(world, "PUT", "/v1/users/ann/personalisation", {"opt_outs": ["telepathy"]}, 422)
    assert "telepathy" in body["error"]["message"]
    assert "inferred_interests" in body["error"]["message"]
    assert call(world, "GET", "/v1/users/ann/profile")["opt_outs"] == []


def test_consent_lets_a_sensitive_item_through(world: TestClient) -> None:
    def shown() -> set[str]:
        return {c["item_id"] for r in ribbons(world)["ribbons"] for c in r["cards"]}

    assert "coin" not in shown()
    profile = call(world, "PUT", "/v1/users/ann/consents", {"crypto": True})
    assert profile["consents"] == {"crypto": True}
    assert "coin" in shown()


def test_export_holds_everything(world: TestClient) -> None:
    ribbons(world)
    export = call(world, "GET", "/v1/users/ann/export")
    stored = export["stored"]
    assert [u["id"] for u in stored["users"]] == ["ann"]
    assert len(stored["events"]) == 3
    assert len(stored["exposures"]) == 1
    assert export["profile"]["user_id"] == "ann"


def test_delete_leaves_no_trace_and_suppresses_late_events(
    world: TestClient, launchpoint: Launchpoint
) -> None:
    ribbons(world)
    call(world, "PUT", "/v1/users/ann/personalisation", {"opt_outs": ["email"]})
    result = call(world, "DELETE", "/v1/users/ann")
    assert result["deleted"]["events"] == 3 and result["suppressed"] is True
    ws = launchpoint.settings.workspace
    with launchpoint.db.read() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("workspace_id", table.c.get("id"))
            for row in conn.execute(select(table).where(column == ws)).mappings():
                text = json.dumps({k: v for k, v in row.items()}, default=str)
                if table.name == "suppressed_users":
                    continue
                assert '"ann"' not in text, f"{table.name} still holds ann: {text}"
    late = call(
        world, "POST", "/v1/events", {"user_id": "ann", "item_id": "rock1", "type": "click"}, 201
    )
    assert late["stored"] == 0 and late["suppressed"] == 1
    again = call(world, "POST", "/v1/users", {"id": "ann"}, 201)
    assert again["stored"] == 0 and again["suppressed"] == 1
    call(world, "GET", "/v1/users/ann", status=404)
    call(world, "GET", "/v1/users/ann/ribbons", status=404)


def test_unknown_users_get_404(world: TestClient) -> None:
    for method, path in [
        ("GET", "/v1/users/nobody/profile"),
        ("GET", "/v1/users/nobody/export"),
        ("DELETE", "/v1/users/nobody"),
        ("POST", "/v1/users/nobody/profile/reset"),
    ]:
        body = call(world, method, path, status=404)
        assert "nobody" in body["error"]["message"]


QUESTIONS = {
    "questions": [
        {
            "id": "goal",
            "text": "What brings you here?",
            "options": [
                {"value": "dance", "label": "Dancing", "categories": ["rock"]},
                {"value": "relax", "label": "Relaxing", "categories": ["folk"]},
            ],
        },
        {
            "id": "extras",
            "text": "Anything else?",
            "kind": "multiple",
            "options": [{"value": "live", "categories": ["jazz"]}, {"value": "vinyl"}],
        },
    ]
}


def test_onboarding_answers_shape_the_first_ribbons(world: TestClient) -> None:
    assert call(world, "PUT", "/v1/onboarding", QUESTIONS)["questions"][0]["id"] == "goal"
    assert call(world, "GET", "/v1/onboarding") == QUESTIONS | {
        "questions": [
            {
                **q,
                "attribute": None,
                "kind": q.get("kind", "single"),
                "options": [{"label": "", "categories": [], **o} for o in q["options"]],
            }
            for q in QUESTIONS["questions"]
        ]
    }
    profile = call(
        world,
        "POST",
        "/v1/users/newbie/onboarding",
        {"answers": {"goal": "relax", "extras": ["vinyl"]}},
    )
    assert profile["explicit"]["attributes"] == {
        "goal": "relax",
        "extras": ["vinyl"],
        "interests": ["folk"],
    }
    cards = ribbons(world, "newbie")["ribbons"][0]["cards"]
    popular = {"jazz0", "jazz1", "rock0"}  # ann's: they lead on popularity alone
    untouched = [c for c in cards if c["item_id"] not in popular]
    assert [c["item_id"][:4] for c in untouched[:5]] == ["folk"] * 5
    assert untouched[0]["reason"] == "Because you like folk"


def test_bad_onboarding_answers_are_all_reported(world: TestClient) -> None:
    call(world, "PUT", "/v1/onboarding", QUESTIONS)
    body = call(
        world,
        "POST",
        "/v1/users/newbie/onboarding",
        {"answers": {"goal": ["dance", "relax"], "extras": ["cd"], "age": "9"}},
        422,
    )
    locs = [d["loc"] for d in body["error"]["details"]]
    assert locs == ["answers.goal", "answers.extras", "answers.age"]
    call(world, "GET", "/v1/users/newbie", status=404)  # nothing stored
