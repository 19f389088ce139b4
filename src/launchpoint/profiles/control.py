"""What users can see and change about their own personalisation: the profile (explicit data
apart from inferred interests), edits, removing an inferred interest, reset, switching
personalisation off or opting out of single kinds of it, consents, export and deletion.

Every change is stored first, then taken into the serving state (``written``: the user's
record and profile, read again), so the next request already reflects it; a deletion makes it
rebuild (``invalidate``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from launchpoint.domain.records import UserIn, finite_json
from launchpoint.domain.timeutil import to_iso
from launchpoint.errors import ErrorDetail, InvalidInput, NotFound
from launchpoint.profiles.onboarding import Onboarding, apply_answers
from launchpoint.ranking.state import WorkspaceState, stated_interests
from launchpoint.storage.people import PeopleStore
from launchpoint.storage.store import WorkspaceStore

# Kinds of personalisation a user can switch off one by one.
OPT_OUTS: dict[str, str] = {
    "inferred_interests": "behaviour does not shape rankings; only what the user stated does",
    "location": "location attributes are not used by segment rules",
    "email": "no personalised e-mail (surfaces whose id starts with 'email')",
}
# Attributes that say where a user is; hidden from rules for users who opted out of location.
LOCATION_FIELDS = frozenset(
    {"region", "country", "city", "location", "zip", "postcode", "postal_code", "lat", "lon"}
)
INTEREST_LABELS = ((0.66, "strong"), (0.33, "moderate"), (0.0, "light"))


class UserControl:
    def __init__(
        self,
        records: WorkspaceStore,
        people: PeopleStore,
        state: Callable[[], WorkspaceState],
        invalidate: Callable[[], None],
        written: Callable[[list[str], int | None], None],
        clock: Callable[[], float] = time.time,
        flush: Callable[[], None] = lambda: None,
        forget: Callable[[str], None] = lambda user_id: None,
    ) -> None:
        self.records = records
        self._flush = flush  # stores pending exposures, so export and delete see them
        self._forget = forget  # drops what the process keeps in memory about a user
        self.people = people
        self._state = state
        self._invalidate = invalidate
        self._written = written  # users changed, at a data version (None: nothing written)
        self._clock = clock

    def _user(self, user_id: str) -> dict[str, Any]:
        row = self.records.get_user(user_id)
        if row is None:
            raise NotFound(f"user {user_id!r} does not exist in workspace {self.workspace}")
        return row

    @property
    def workspace(self) -> str:
        return repr(self.records.workspace_id)

    # -- reading -------------------------------------------------------------------------
    def profile(self, user_id: str) -> dict[str, Any]:
        """The user's profile as the user may see it."""
        record = self._user(user_id)
        edits = self.people.profile(user_id)
        state = self._state()
        user = state.user_index.get(user_id)
        inferred: list[dict[str, Any]] = []
        disliked: list[dict[str, Any]] = []
        segments: list[str] = []
        if user is not None:
            implicit = (
                state.overlays[user].affinity
                if user in state.overlays
                else state.with_edits(user, state.scaled_interest(user))
            )
            stated = stated_interests(record["attributes"])
            for k in sorted(range(len(state.categories)), key=lambda k: -abs(implicit[k])):
                category, strength = state.categories[k], float(implicit[k])
                if category in stated or strength == 0.0:
                    continue
                if strength > 0:
                    label = next(name for floor, name in INTEREST_LABELS if strength > floor)
                    inferred.append(
                        {
                            "category": category,
                            "strength": round(strength, 3),
                            "summary": f"{label.capitalize()} interest in {category}",
                        }
                    )
                else:
                    disliked.append(
                        {
                            "category": category,
                            "strength": round(strength, 3),
                            "summary": f"Shown less {category} after your feedback",
                        }
                    )
            segments = [s.spec.id for s in state.segments if s.members[user]]
        return {
            "user_id": user_id,
            "personalisation": bool(record["personalisation"]),
            "opt_outs": edits["opt_outs"],
            "consents": record["consents"],
            "explicit": {
                "attributes": record["attributes"],
                "interests": sorted(stated_interests(record["attributes"])),
            },
            "inferred": {
                "interests": inferred,
                "dislikes": disliked,
                "removed": edits["removed_interests"],
                "reset_at": to_iso(edits["reset_at"]) if edits["reset_at"] else None,
                "half_life_days": state.signals.half_life_days,
            },
            "segments": segments,
        }

    def export(self, user_id: str) -> dict[str, Any]:
        """Everything held about the user: the stored rows, table by table, and the profile
        as derived from them."""
        self._user(user_id)
        self._flush()
        return {
            "user_id": user_id,
            "workspace": self.records.workspace_id,
            "exported_at": to_iso(self._clock()),
            "profile": self.profile(user_id),
            "stored": self.people.export_user(user_id),
        }

    # -- changing ------------------------------------------------------------------------
    def edit(self, user_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge explicit attributes (a null value removes the attribute)."""
        record = self._user(user_id)
        merged = dict(record["attributes"])
        for key, value in attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        finite_json(merged, "attributes")
        self._save_user(record, attributes=merged)
        return self.profile(user_id)

    def remove_interest(self, user_id: str, category: str) -> dict[str, Any]:
        """Stop using an inferred interest (and a stated one of the same name)."""
        record = self._user(user_id)
        edits = self.people.profile(user_id)
        attributes = dict(record["attributes"])
        stated = stated_interests(attributes)
        if category in stated:
            attributes["interests"] = sorted(stated - {category})
        version = self.people.save_profile(
            user_id,
            removed_interests=[*edits["removed_interests"], category],
            opt_outs=edits["opt_outs"],
            reset_at=edits["reset_at"],
            user_update={"attributes": attributes} if category in stated else None,
        )
        self._written([user_id], version)
        return self.profile(user_id)

    def reset(self, user_id: str) -> dict[str, Any]:
        """Start the inferred profile over: events so far no longer shape interests, and
        removed interests are forgotten. Explicit data and history of what the user owns
        (purchases are still not offered again) stay."""
        self._user(user_id)
        edits = self.people.profile(user_id)
        version = self.people.save_profile(
            user_id, removed_interests=[], opt_outs=edits["opt_outs"], reset_at=self._clock()
        )
        self._written([user_id], version)
        return self.profile(user_id)

    def set_personalisation(
        self, user_id: str, enabled: bool | None, opt_outs: list[str] | None
    ) -> dict[str, Any]:
        self._user(user_id)
        edits = self.people.profile(user_id)
        if opt_outs is not None:
            unknown = [kind for kind in opt_outs if kind not in OPT_OUTS]
            if unknown:
                allowed = ", ".join(OPT_OUTS)
                raise InvalidInput(
                    f"opt_outs: {', '.join(map(repr, unknown))} is not a kind of "
                    f"personalisation; allowed: {allowed}",
                    [ErrorDetail("opt_outs", f"allowed: {allowed}")],
                )
        version = self.people.save_profile(
            user_id,
            removed_interests=edits["removed_interests"],
            opt_outs=edits["opt_outs"] if opt_outs is None else opt_outs,
            reset_at=edits["reset_at"],
            user_update=None if enabled is None else {"personalisation": enabled},
        )
        self._written([user_id], version)
        return self.profile(user_id)

    def set_consents(self, user_id: str, consents: Mapping[str, bool]) -> dict[str, Any]:
        record = self._user(user_id)
        self._save_user(record, consents={**record["consents"], **consents})
        return self.profile(user_id)

    def answer_onboarding(
        self, user_id: str, onboarding: Onboarding, answers: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a user's onboarding answers as explicit data; creates the user if needed."""
        attributes, stated = apply_answers(onboarding, answers)
        record = self.records.get_user(user_id)
        if record is None:
            try:
                new = UserIn(id=user_id)
            except ValidationError as exc:
                message = exc.errors()[0]["msg"]
                raise InvalidInput(
                    f"user id {user_id!r} is not valid: {message}",
                    [ErrorDetail("user_id", message)],
                ) from exc
            self._written([user_id], self.records.upsert_users([new])[1])
            record = self._user(user_id)
        merged = {**record["attributes"], **attributes}
        interests = stated_interests(merged) | stated
        if interests:
            merged["interests"] = sorted(interests)
        self._save_user(record, attributes=merged)
        return self.profile(user_id)

    def delete(self, user_id: str) -> dict[str, Any]:
        """Delete everything held about the user and suppress the id from now on."""
        self._user(user_id)
        self._flush()
        counts = self.people.delete_user(user_id)
        self._forget(user_id)
        self._invalidate()
        return {"user_id": user_id, "deleted": counts, "suppressed": True}

    def _save_user(self, record: Mapping[str, Any], **changes: Any) -> None:
        user = UserIn(
            id=record["id"],
            attributes=changes.get("attributes", record["attributes"]),
            consents=changes.get("consents", record["consents"]),
            personalisation=changes.get("personalisation", record["personalisation"]),
            created_at=record["created_at"],
        )
        self._written([user.id], self.records.upsert_users([user])[1])
