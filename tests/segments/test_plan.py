"""apply --dry-run: what would change, computed against the data, with nothing written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from launchpoint.domain import SegmentSpec, SurfaceSpec, UserIn, WorkspaceConfig
from launchpoint.engine import WorkspaceEngine


@pytest.fixture
def people(workspace: WorkspaceEngine) -> WorkspaceEngine:
    workspace.add_users([UserIn(id=f"u{n}", attributes={"age": n}) for n in range(10)])
    workspace.apply(
        WorkspaceConfig(
            segments=[
                SegmentSpec(id="old", users="age >= 5", min_users=3, min_items=0),
                SegmentSpec(id="kept", users="age < 2", min_users=3, min_items=0),
            ],
            surfaces={"home": SurfaceSpec(layers=2)},
        )
    )
    return workspace


def _members(ws: WorkspaceEngine, segment_id: str) -> set[str]:
    state = ws.state()
    seg = next(s for s in state.segments if s.spec.id == segment_id)
    return {state.user_ids[i] for i in seg.members.nonzero()[0]}


def test_dry_run_says_who_enters_and_leaves_and_writes_nothing(people: WorkspaceEngine) -> None:
    version = people.store.data_version()
    before = _members(people, "old")
    config = WorkspaceConfig(
        segments=[
            SegmentSpec(id="old", users="age >= 3 and age < 8", min_users=3, min_items=0),
            SegmentSpec(id="kept", users="age < 2", min_users=3, min_items=0),
            SegmentSpec(id="new", users="age = 9", min_users=3, min_items=0, status="draft"),
        ],
        surfaces={"home": SurfaceSpec(layers=3), "email": SurfaceSpec()},
    )
    result = people.apply(config, dry_run=True)
    assert result.dry_run
    assert people.store.data_version() == version
    assert [s.id for s, _ in people.segments()] == ["kept", "old"]  # nothing new stored
    changes = {c.segment_id: c for c in result.plan.segments}
    old = changes["old"]
    assert (old.action, [f.field for f in old.fields]) == ("update", ["users"])
    assert old.fields[0].before == "age >= 5" and old.fields[0].after == "age >= 3 and age < 8"
    assert (old.members_before, old.members_after) == (5, 5)
    assert (old.entering, old.leaving) == (2, 2)  # u3, u4 in; u8, u9 out
    assert old.qualifies_before and old.qualification_after and old.qualification_after.qualifies
    assert changes["kept"].action == "unchanged" and changes["kept"].entering == 0
    new = changes["new"]
    assert (new.action, new.members_before, new.members_after, new.entering) == (
        "create", 0, 1, 1,
    )  # fmt: skip
    assert new.qualification_after is not None and not new.qualification_after.qualifies
    assert result.plan.surfaces == {"home": "update", "email": "create"}

    people.apply(config)
    after = _members(people, "old")
    assert len(after - before) == old.entering and len(before - after) == old.leaving


def test_archiving_counts_every_member_as_leaving(people: WorkspaceEngine) -> None:
    config = WorkspaceConfig(segments=[SegmentSpec(id="old", users="age >= 5", status="archived",
                                                   min_users=3, min_items=0)])  # fmt: skip
    (change,) = people.apply(config, dry_run=True).plan.segments
    assert (change.members_after, change.leaving, change.qualification_after) == (0, 5, None)


def test_a_dry_run_still_refuses_bad_rules(people: WorkspaceEngine) -> None:
    from launchpoint.errors import RuleError

    with pytest.raises(RuleError, match="did you mean 'age'"):
        people.apply(WorkspaceConfig(segments=[SegmentSpec(id="x", users="agge > 1")]),
                     dry_run=True)  # fmt: skip


def test_dry_run_through_the_api(client: TestClient) -> None:
    client.post("/v1/users/batch", json={"users": [{"id": f"u{n}", "attributes": {"n": n}}
                                                   for n in range(4)]})  # fmt: skip
    body = {"segments": [{"id": "s", "users": "n > 1", "min_users": 1, "min_items": 0}]}
    response = client.post("/v1/apply", params={"dry_run": "true"}, json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["dry_run"] is True
    assert data["plan"][0]["action"] == "create" and data["plan"][0]["entering"] == 2
    assert client.get("/v1/segments").json()["segments"] == []
    applied = client.post("/v1/apply", json=body).json()
    assert applied["dry_run"] is False and applied["created"] == ["s"]
