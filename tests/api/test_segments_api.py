"""Segments, surfaces and ribbons through the API: versions, validation that stores nothing,
fallbacks, business filters, card reasons, page size, personalisation off, time windows."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

DAY = 86400.0


# Guardrails off: what these tests check is the segments, layers and order by score alone.
PLAIN = {
    "diversity": {"min_categories": 0},
    "exploration": {"share": 0},
    "no_repeats": {"across_ribbons": False, "rotate_after": 0},
}


def post(client: TestClient, path: str, body: Any, status: int = 201) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def put(client: TestClient, path: str, body: Any, status: int = 200) -> Any:
    response = client.put(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ribbons(client: TestClient, user: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = get(client, f"/v1/users/{user}/ribbons", **params)
    return page


def ribbon_ids(client: TestClient, user: str, **params: Any) -> list[str | None]:
    return [r["segment_id"] for r in ribbons(client, user, **params)["ribbons"]]


def card_ids(ribbon: dict[str, Any]) -> list[str]:
    return [c["item_id"] for c in ribbon["cards"]]


def segment(sid: str, users: str = "true", items: str = "true", **extra: Any) -> dict[str, Any]:
    return {"id": sid, "users": users, "items": items, "min_users": 1, "min_items": 1, **extra}


def report(client: TestClient) -> dict[str, dict[str, Any]]:
    return {row["segment_id"]: row for row in get(client, "/v1/segments/report")}


def stored_segments(client: TestClient) -> Any:
    return get(client, "/v1/segments")


def load_shop(client: TestClient, *, with_segment: bool = True) -> None:
    """Fans (in group 'fans'; 'newfan' has no events) and others; items on the 'main' shelf
    and elsewhere; with the segment 'fans' unless told otherwise."""
    users = [{"id": f"fan{k}", "attributes": {"groups": ["fans"]}} for k in range(4)]
    users += [
        {"id": "newfan", "attributes": {"groups": ["fans"]}},
        {"id": "loner", "attributes": {"groups": []}},
        {"id": "optout", "attributes": {"groups": ["fans"]}, "personalisation": False},
    ]
    post(client, "/v1/users/batch", {"users": users})
    items = [
        {
            "id": f"m{k}",
            "title": f"Main {k}",
            "categories": ["pop"],
            "attributes": {"shelf": "main"},
        }
        for k in range(6)
    ]
    items += [
        {
            "id": "gone",
            "title": "Unavailable",
            "categories": ["pop"],
            "attributes": {"shelf": "main"},
            "available": False,
        },
        {"id": "o1", "title": "Other", "categories": ["rock"], "attributes": {"shelf": "other"}},
    ]
    post(client, "/v1/items/batch", {"items": items})
    # Popularity: m0 > m1 > m2 > ...; 'gone' would be the most popular of all.
    events = []
    for k, n in enumerate((5, 4, 3, 2, 1)):
        events += [
            {
                "user_id": f"fan{j % 4}",
                "item_id": f"m{k}",
                "type": "view",
                "message_id": f"v-m{k}-{j}",
            }
            for j in range(n)
        ]
    events += [
        {"user_id": f"fan{j % 4}", "item_id": "gone", "type": "view", "message_id": f"v-gone-{j}"}
        for j in range(9)
    ]
    post(client, "/v1/events/batch", {"events": events})
    if with_segment:
        post(
            client,
            "/v1/apply",
            {
                "segments": [
                    segment(
                        "fans", "groups contains 'fans'", "shelf = 'main'", name="Fans", priority=1
                    ),
                ]
            },
            status=200,
        )


# -- segment definitions and versions --------------------------------------------------------


def test_post_put_get_segments_with_versions_that_move_only_on_change(client: TestClient) -> None:
    created = post(client, "/v1/segments", segment("s1", name="First", priority=5))
    assert created["version"] == 1 and created["name"] == "First" and created["title"] == "First"
    # The same definition again (whitespace aside) is not a new version.
    same = post(client, "/v1/segments", segment("s1", users="  true ", name="First", priority=5))
    assert same["version"] == 1
    assert put(client, "/v1/segments/s1", segment("s1", name="First", priority=5))["version"] == 1
    changed = put(client, "/v1/segments/s1", segment("s1", name="Renamed", priority=5))
    assert changed["version"] == 2 and changed["name"] == "Renamed"
    assert put(client, "/v1/segments/s1", segment("s1", name="Renamed", priority=5))["version"] == 2
    assert put(client, "/v1/segments/s1", segment("s1", name="Renamed", priority=2))["version"] == 3

    one = get(client, "/v1/segments/s1")
    assert one["version"] == 3 and one["priority"] == 2
    history = one["history"]
    assert [h["version"] for h in history] == [1, 2, 3]
    assert [h["definition"]["name"] for h in history] == ["First", "Renamed", "Renamed"]
    assert [h["definition"]["priority"] for h in history] == [5, 5, 2]
    assert all(h["definition"]["id"] == "s1" for h in history)


def test_segment_list_is_in_priority_order_with_versions(client: TestClient) -> None:
    post(client, "/v1/segments", segment("late", priority=30))
    post(client, "/v1/segments", segment("early", priority=1))
    post(client, "/v1/segments", segment("middle", priority=10))
    listed = stored_segments(client)["segments"]
    assert [s["id"] for s in listed] == ["early", "middle", "late"]
    assert all(s["version"] == 1 for s in listed)


def test_put_refuses_a_body_whose_id_differs_from_the_path(client: TestClient) -> None:
    response = client.put("/v1/segments/a", json=segment("b"))
    assert response.status_code == 422
    assert "'b'" in response.json()["error"]["message"]
    assert stored_segments(client) == {"segments": []}


def test_apply_reports_created_updated_unchanged_and_history_records_the_actor(
    client: TestClient,
) -> None:
    first = post(client, "/v1/apply", {"segments": [segment("a"), segment("b")]}, status=200)
    assert (first["created"], first["updated"], first["unchanged"]) == (["a", "b"], [], [])
    second = post(
        client,
        "/v1/apply",
        {"segments": [segment("a"), segment("b", name="B!"), segment("c")]},
        status=200,
    )
    assert (second["created"], second["updated"], second["unchanged"]) == (["c"], ["b"], ["a"])
    assert [r["segment_id"] for r in second["report"]] == ["a", "b", "c"]
    versions = {s["id"]: s["version"] for s in stored_segments(client)["segments"]}
    assert versions == {"a": 1, "b": 2, "c": 1}
    assert [h["actor"] for h in get(client, "/v1/segments/b")["history"]] == ["api", "api"]


def test_segment_history_times_are_iso(client: TestClient) -> None:
    post(client, "/v1/segments", segment("s1"))
    (entry,) = get(client, "/v1/segments/s1")["history"]
    assert isinstance(entry["created_at"], str) and entry["created_at"].endswith("Z")
    datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00"))


# -- validation stores nothing ---------------------------------------------------------------


def test_a_bad_rule_is_refused_and_changes_nothing_stored(client: TestClient) -> None:
    load_shop(client)
    post(client, "/v1/segments", segment("keep", "groups contains 'fans'", name="Keep"))
    before = stored_segments(client)
    history_before = get(client, "/v1/segments/keep")["history"]

    bad_rules = [
        ("users", "grups contains 'fans'"),  # unknown field
        ("users", "groups contains"),  # syntax
        ("items", "count(event = 'view') > 1"),  # count() in an item rule
        ("users", "count(event = 'view', within = 'soon') > 1"),  # bad window
        ("users", "count(event = 'view') > 'many'"),  # a count compared with a string
    ]
    for kind, rule in bad_rules:
        for method, path, body in (
            ("POST", "/v1/segments", segment("new", **{kind: rule})),
            ("PUT", "/v1/segments/keep", segment("keep", **{kind: rule})),
            (
                "POST",
                "/v1/apply",
                {
                    "segments": [segment("new"), segment("keep", **{kind: rule})],
                    "surfaces": {"home": {"fallback": "popular"}},
                },
            ),
        ):
            response = client.request(method, path, json=body)
            assert response.status_code == 422, (rule, method, response.text)
            assert response.json()["error"]["code"] == "invalid_rule", (rule, response.text)
            assert stored_segments(client) == before, (rule, method)
    assert get(client, "/v1/segments/keep")["history"] == history_before
    assert get(client, "/v1/surfaces") == {"surfaces": {}}


def test_apply_with_several_bad_rules_reports_every_one(client: TestClient) -> None:
    load_shop(client, with_segment=False)
    body = {
        "segments": [
            segment("ok", "groups contains 'fans'"),
            segment("bad1", "grups contains 'fans'"),
            segment("bad2", "true", "shelff = 'main'"),
            segment("bad3", "groups contains 'fans' and\n  (", "true"),
        ]
    }
    response = client.post("/v1/apply", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    found = {(d["segment"], d["rule"], d["line"], d["column"]) for d in error["details"]}
    assert {("bad1", "users", 1, 1), ("bad2", "items", 1, 1)} <= found
    assert any(seg == "bad3" and rule == "users" and line == 2 for seg, rule, line, _ in found)
    assert len(error["details"]) == 3
    assert error["message"].endswith("(and 2 more)")
    by_segment = {d["segment"]: d for d in error["details"]}
    assert "did you mean 'groups'?" in by_segment["bad1"]["message"]
    assert "did you mean 'shelf'?" in by_segment["bad2"]["message"]
    assert by_segment["bad1"]["loc"].startswith("segments[1] (bad1).users")
    assert stored_segments(client) == {"segments": []}


def test_apply_refuses_a_config_naming_a_segment_twice(client: TestClient) -> None:
    response = client.post("/v1/apply", json={"segments": [segment("a"), segment("a")]})
    assert response.status_code == 422
    assert "appears twice" in response.json()["error"]["message"]
    assert stored_segments(client) == {"segments": []}


# -- surfaces ------------------------------------------------------------------------------------


def test_surfaces_put_and_get(client: TestClient) -> None:
    assert get(client, "/v1/surfaces") == {"surfaces": {}}
    home = put(client, "/v1/surfaces/home", {"layers": 3, "cards": 4, "fallback": "popular"})
    assert home.pop("guardrails")["exploration"]["share"] == 0.2  # the defaults
    assert home == {
        "id": "home",
        "layers": 3,
        "cards": 4,
        "fallback": "popular",
        "fallback_title": "Popular right now",
    }
    put(client, "/v1/surfaces/email", {"layers": 1, "cards": 2, "fallback_title": "Top picks"})
    put(client, "/v1/surfaces/home", {"layers": 2})  # replaces, not merges
    surfaces = get(client, "/v1/surfaces")
    for surface in surfaces["surfaces"].values():
        surface.pop("guardrails")
    assert surfaces == {
        "surfaces": {
            "home": {
                "layers": 2,
                "cards": 10,
                "fallback": "none",
                "fallback_title": "Popular right now",
            },
            "email": {"layers": 1, "cards": 2, "fallback": "none", "fallback_title": "Top picks"},
        }
    }
    response = client.put("/v1/surfaces/home", json={"fallback": "sometimes"})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("body.fallback")


def test_apply_stores_surfaces_and_ribbons_follow_them(client: TestClient) -> None:
    load_shop(client)
    result = post(
        client,
        "/v1/apply",
        {
            "segments": [segment("fans", "groups contains 'fans'", "shelf = 'main'", name="Fans")],
            "surfaces": {"email": {"layers": 1, "cards": 2}, "home": {"cards": 3}},
        },
        status=200,
    )
    assert result["surfaces"] == ["email", "home"]
    assert set(get(client, "/v1/surfaces")["surfaces"]) == {"email", "home"}
    home = ribbons(client, "fan0")
    assert home["surface"] == "home" and len(home["ribbons"][0]["cards"]) == 3
    email = ribbons(client, "fan0", surface="email")
    assert email["surface"] == "email" and len(email["ribbons"][0]["cards"]) == 2


# -- ribbons: fallback, filters, reasons ---------------------------------------------------------


def test_a_user_in_no_qualifying_segment_gets_nothing_by_default(client: TestClient) -> None:
    load_shop(client)
    page = ribbons(client, "loner")
    assert page["ribbons"] == [] and page["fallback_used"] is False
    assert page["user_id"] == "loner" and page["recommendation_id"]


def test_fallback_popular_gives_a_popular_right_now_ribbon(client: TestClient) -> None:
    load_shop(client)
    # 'loner' also belongs to a segment that does not qualify: still the fallback.
    post(
        client,
        "/v1/segments",
        segment("tiny", "groups contains 'fans' or id = 'loner'", min_users=50),
    )
    put(client, "/v1/surfaces/home", {"fallback": "popular", "cards": 3, "guardrails": PLAIN})
    page = ribbons(client, "loner")
    assert page["fallback_used"] is True
    (ribbon,) = page["ribbons"]
    assert ribbon["kind"] == "fallback" and ribbon["segment_id"] is None
    assert ribbon["title"] == "Popular right now"
    assert card_ids(ribbon) == ["m0", "m1", "m2"]  # by popularity; 'gone' is unavailable
    assert {(c["reason"], c["signal"]) for c in ribbon["cards"]} == {
        ("Popular right now", "popular")
    }
    # A member of a qualifying segment gets the segment, not the fallback.
    member = ribbons(client, "fan0")
    assert member["fallback_used"] is False
    assert [r["segment_id"] for r in member["ribbons"]] == ["fans"]


def test_fallback_title_is_configurable(client: TestClient) -> None:
    load_shop(client)
    put(client, "/v1/surfaces/home", {"fallback": "popular", "fallback_title": "Trending"})
    assert ribbons(client, "loner")["ribbons"][0]["title"] == "Trending"


@pytest.mark.parametrize("kind", ["purchase", "rate", "dismiss"])
def test_ribbons_leave_out_consumed_items(client: TestClient, kind: str) -> None:
    load_shop(client)
    put(client, "/v1/surfaces/home", {"fallback": "popular"})
    before = card_ids(ribbons(client, "fan0")["ribbons"][0])
    assert before[:2] == ["m0", "m1"]
    post(
        client,
        "/v1/events/batch",
        {
            "events": [
                {"user_id": "fan0", "item_id": "m0", "type": kind, "value": 4},
                {"user_id": "loner", "item_id": "m0", "type": kind, "value": 4},
            ]
        },
    )
    after = card_ids(ribbons(client, "fan0")["ribbons"][0])
    assert "m0" not in after and after[0] == "m1"
    assert "m0" in card_ids(ribbons(client, "fan1")["ribbons"][0])  # only for the one who did it
    fallback = ribbons(client, "loner")["ribbons"][0]
    assert fallback["kind"] == "fallback" and "m0" not in card_ids(fallback)


def test_views_and_clicks_do_not_remove_an_item(client: TestClient) -> None:
    load_shop(client)
    post(
        client,
        "/v1/events/batch",
        {
            "events": [
                {"user_id": "fan0", "item_id": "m0", "type": "view"},
                {"user_id": "fan0", "item_id": "m0", "type": "click"},
            ]
        },
    )
    assert "m0" in card_ids(ribbons(client, "fan0")["ribbons"][0])


def test_unavailable_items_are_never_cards_and_do_not_count_for_min_items(
    client: TestClient,
) -> None:
    load_shop(client)
    page = ribbons(client, "fan0", cards=50)
    assert "gone" not in card_ids(page["ribbons"][0])
    assert sorted(card_ids(page["ribbons"][0])) == [f"m{k}" for k in range(6)]
    assert report(client)["fans"]["items"] == 6  # 'gone' is eligible but unavailable
    # Making the unavailable item available again brings it back, at the top.
    post(
        client,
        "/v1/items",
        {"id": "gone", "title": "Back", "categories": ["pop"], "attributes": {"shelf": "main"}},
    )
    assert card_ids(ribbons(client, "fan0")["ribbons"][0])[0] == "gone"
    assert report(client)["fans"]["items"] == 7


def test_the_reason_becomes_because_you_like_when_affinity_outweighs_popularity(
    client: TestClient,
) -> None:
    post(
        client,
        "/v1/users/batch",
        {
            "users": [
                {"id": u, "attributes": {"groups": ["fans"]}}
                for u in ("jazzfan", "plain", "o1", "o2")
            ]
        },
    )
    post(
        client,
        "/v1/items/batch",
        {
            "items": [
                {
                    "id": "hit",
                    "title": "Hit",
                    "categories": ["pop"],
                    "attributes": {"shelf": "main"},
                },
                {
                    "id": "jz",
                    "title": "Jazz new",
                    "categories": ["jazz"],
                    "attributes": {"shelf": "main"},
                },
                *(
                    {
                        "id": f"j{k}",
                        "title": f"Jazz {k}",
                        "categories": ["jazz"],
                        "attributes": {"shelf": "back"},
                    }
                    for k in range(3)
                ),
            ]
        },
    )
    events = [{"user_id": u, "item_id": "hit", "type": "view"} for u in ("o1", "o2")]
    # jazzfan loves jazz, but only off the segment's shelf: 'jz' itself is unpopular.
    events += [{"user_id": "jazzfan", "item_id": f"j{k}", "type": "save"} for k in range(3)]
    post(client, "/v1/events/batch", {"events": events})
    post(
        client,
        "/v1/segments",
        segment("fans", "groups contains 'fans'", "shelf = 'main'", name="Fans"),
    )

    cards = {c["item_id"]: c for c in ribbons(client, "jazzfan")["ribbons"][0]["cards"]}
    assert (cards["jz"]["reason"], cards["jz"]["signal"]) == ("Because you like jazz", "affinity")
    assert (cards["hit"]["reason"], cards["hit"]["signal"]) == (
        "Popular with Fans",
        "segment_popularity",
    )
    # Someone without the taste sees the same item explained by the segment.
    plain = {c["item_id"]: c for c in ribbons(client, "plain")["ribbons"][0]["cards"]}
    assert plain["jz"]["reason"] == "Popular with Fans"
    assert plain["jz"]["signal"] == "segment_popularity"
    assert list(plain) == ["hit", "jz"]


def test_the_segment_reason_template_names_the_segment(client: TestClient) -> None:
    load_shop(client, with_segment=False)
    post(
        client,
        "/v1/segments",
        segment(
            "fans",
            "groups contains 'fans'",
            "shelf = 'main'",
            name="Fans",
            reason="Loved by {name} like you",
            title="For the fans",
        ),
    )
    (ribbon,) = ribbons(client, "newfan")["ribbons"]  # no events, so no affinity of its own
    assert ribbon["title"] == "For the fans"
    assert {c["reason"] for c in ribbon["cards"]} == {"Loved by Fans like you"}


def _three_segments(client: TestClient) -> None:
    load_shop(client, with_segment=False)
    post(
        client,
        "/v1/apply",
        {
            "segments": [
                segment("third", "groups contains 'fans'", "shelf = 'main'", priority=3),
                segment("first", "groups contains 'fans'", "shelf = 'main'", priority=1),
                segment("second", "id = 'fan0'", "true", priority=2),
                segment("draft", "true", "true", priority=0, status="draft"),
            ]
        },
        status=200,
    )


def test_layers_and_cards_cut_the_page(client: TestClient) -> None:
    _three_segments(client)
    put(client, "/v1/surfaces/home", {"guardrails": PLAIN})
    assert ribbon_ids(client, "fan0", layers=5) == ["first", "second", "third"]
    assert ribbon_ids(client, "fan0") == ["first", "second"]  # the default surface: 2 layers
    assert ribbon_ids(client, "fan0", layers=1) == ["first"]
    assert ribbon_ids(client, "fan1", layers=2) == ["first", "third"]
    page = ribbons(client, "fan0", layers=3, cards=2)
    assert [len(r["cards"]) for r in page["ribbons"]] == [2, 2, 2]
    assert [c["position"] for c in page["ribbons"][0]["cards"]] == [0, 1]
    assert card_ids(page["ribbons"][0]) == ["m0", "m1"]
    default = ribbons(client, "fan0")["ribbons"][0]
    assert len(default["cards"]) == 6  # all 6 available items; the surface allows 10
    put(client, "/v1/surfaces/home", {"layers": 1, "cards": 4, "guardrails": PLAIN})
    page = ribbons(client, "fan0")
    assert [r["segment_id"] for r in page["ribbons"]] == ["first"]
    assert len(page["ribbons"][0]["cards"]) == 4


def test_each_request_gets_a_new_recommendation_id(client: TestClient) -> None:
    load_shop(client)
    ids = {ribbons(client, "fan0")["recommendation_id"] for _ in range(3)}
    assert len(ids) == 3


def test_a_user_with_personalisation_off_gets_no_segment_ribbons(client: TestClient) -> None:
    load_shop(client)
    assert report(client)["fans"]["qualifies"] is True
    page = ribbons(client, "optout")
    assert page["ribbons"] == [] and page["fallback_used"] is False
    put(client, "/v1/surfaces/home", {"fallback": "popular"})
    page = ribbons(client, "optout")
    assert [r["kind"] for r in page["ribbons"]] == ["fallback"]
    # Switching it back on brings the segment back.
    post(client, "/v1/users", {"id": "optout", "attributes": {"groups": ["fans"]}})
    assert ribbon_ids(client, "optout") == ["fans"]


def test_a_segment_with_nothing_left_for_the_user_does_not_take_a_layer(
    client: TestClient,
) -> None:
    load_shop(client)
    post(
        client,
        "/v1/apply",
        {
            "segments": [
                segment("fans", "groups contains 'fans'", "shelf = 'main'", priority=1),
                segment("others", "groups contains 'fans'", "shelf = 'other'", priority=2),
            ]
        },
        status=200,
    )
    post(
        client,
        "/v1/events/batch",
        {"events": [{"user_id": "fan0", "item_id": f"m{k}", "type": "purchase"} for k in range(6)]},
    )
    page = ribbons(client, "fan0", layers=1)
    assert all(r["cards"] for r in page["ribbons"]), page
    assert [r["segment_id"] for r in page["ribbons"]] == ["others"]


# -- behavioural rules with time windows ---------------------------------------------------------


def test_count_rules_only_count_events_inside_their_window(client: TestClient) -> None:
    now = time.time()
    recent, old = now - 2 * DAY, now - 100 * DAY
    post(
        client,
        "/v1/items/batch",
        {
            "items": [
                {"id": f"i{k}", "categories": ["x"], "attributes": {"shelf": "s" if k % 2 else "t"}}
                for k in range(4)
            ]
        },
    )

    def clicks(user: str, times: list[float], kind: str = "click", item: str = "i1") -> list[Any]:
        return [
            {
                "user_id": user,
                "item_id": item,
                "type": kind,
                "timestamp": ts,
                "message_id": f"{user}-{kind}-{n}",
            }
            for n, ts in enumerate(times)
        ]

    events = (
        clicks("recent2", [recent, recent + 60])
        + clicks("old2", [old, old + 60])
        + clicks("mixed", [recent, old, old + 1, old + 2])
        + clicks("viewer", [recent, recent + 1], kind="view")
        + clicks("hour", [now - 3600])
        + clicks("shelf_t", [recent, recent + 1], item="i0")
    )
    post(client, "/v1/events/batch", {"events": events})
    post(
        client,
        "/v1/apply",
        {
            "segments": [
                segment(
                    "recent_clickers", "count(event = 'click', within = '30d') >= 2", priority=1
                ),
                segment("ever_clickers", "count(event = 'click') >= 2", priority=2),
                segment("last_day", "count(type = 'click', within = 36h) >= 1", priority=3),
                segment(
                    "shelf_s_month",
                    "count(event = 'click' and shelf = 's', within = '4w') >= 1",
                    priority=4,
                ),
            ],
            "surfaces": {"home": {"guardrails": PLAIN}},
        },
        status=200,
    )

    rows = report(client)
    assert rows["recent_clickers"]["members"] == 2  # recent2, shelf_t
    assert rows["ever_clickers"]["members"] == 4  # recent2, old2, mixed, shelf_t
    assert rows["last_day"]["members"] == 1  # hour
    assert rows["shelf_s_month"]["members"] == 3  # recent2, mixed, hour

    layers = {"layers": 10}
    assert ribbon_ids(client, "recent2", **layers) == [
        "recent_clickers",
        "ever_clickers",
        "shelf_s_month",
    ]
    assert ribbon_ids(client, "old2", **layers) == ["ever_clickers"]
    assert ribbon_ids(client, "mixed", **layers) == ["ever_clickers", "shelf_s_month"]
    assert ribbon_ids(client, "viewer", **layers) == []
    assert ribbon_ids(client, "hour", **layers) == ["last_day", "shelf_s_month"]
    assert ribbon_ids(client, "shelf_t", **layers) == ["recent_clickers", "ever_clickers"]


def test_a_new_event_moves_a_user_into_a_segment(client: TestClient) -> None:
    now = time.time()
    post(
        client,
        "/v1/items/batch",
        {"items": [{"id": "i1", "categories": ["x"]}, {"id": "i2", "categories": ["x"]}]},
    )
    post(client, "/v1/users", {"id": "u1"})
    post(client, "/v1/segments", segment("buyers", "count(event = 'purchase', within = '7d') >= 1"))
    assert ribbon_ids(client, "u1") == []
    post(
        client,
        "/v1/events",
        {"user_id": "u1", "item_id": "i1", "type": "purchase", "timestamp": now - 30 * DAY},
    )
    assert ribbon_ids(client, "u1") == []  # outside the window
    post(
        client,
        "/v1/events",
        {"user_id": "u1", "item_id": "i1", "type": "purchase", "timestamp": now - DAY},
    )
    assert report(client)["buyers"]["members"] == 1
    page = ribbons(client, "u1")
    assert [r["segment_id"] for r in page["ribbons"]] == ["buyers"]
    assert card_ids(page["ribbons"][0]) == ["i2"]  # i1 is bought: not offered again
