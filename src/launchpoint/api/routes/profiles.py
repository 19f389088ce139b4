"""User control: a user's own profile, edits, opt-outs, consents, export and deletion; the
workspace's onboarding questions and the answers to them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from launchpoint.api.deps import Workspace
from launchpoint.profiles.onboarding import Onboarding

router = APIRouter(tags=["user control"])
USERS = "/v1/users/{user_id:path}"


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: dict[str, Any] = Field(
        ..., description="Explicit attributes to merge; a null value removes one."
    )


class PersonalisationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="Off: the non-personalised experience.")
    opt_outs: list[str] | None = Field(
        None, description="Kinds switched off: inferred_interests, location, email."
    )


class OnboardingAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str | list[str]] = Field(..., description="question id -> option value(s)")


@router.get(USERS + "/profile", summary="What Launchpoint holds and infers about this user")
def get_profile(user_id: str, ws: Workspace) -> dict[str, Any]:
    return ws.control.profile(user_id)


@router.patch(USERS + "/profile", summary="Edit the user's explicit data")
def patch_profile(user_id: str, body: ProfileUpdate, ws: Workspace) -> dict[str, Any]:
    return ws.control.edit(user_id, body.attributes)


@router.delete(USERS + "/profile/interests/{category}", summary="Stop using one inferred interest")
def delete_interest(
    user_id: str,
    category: Annotated[str, Path(min_length=1, max_length=256)],
    ws: Workspace,
) -> dict[str, Any]:
    return ws.control.remove_interest(user_id, category)


@router.post(USERS + "/profile/reset", summary="Start the inferred profile over")
def reset_profile(user_id: str, ws: Workspace) -> dict[str, Any]:
    return ws.control.reset(user_id)


@router.put(USERS + "/personalisation", summary="Switch personalisation, or kinds of it, off")
def put_personalisation(user_id: str, body: PersonalisationUpdate, ws: Workspace) -> dict[str, Any]:
    return ws.control.set_personalisation(user_id, body.enabled, body.opt_outs)


@router.put(USERS + "/consents", summary="Consent per sensitive topic")
def put_consents(user_id: str, consents: dict[str, bool], ws: Workspace) -> dict[str, Any]:
    return ws.control.set_consents(user_id, consents)


@router.get(USERS + "/export", summary="Everything held about this user, as JSON")
def export_user(user_id: str, ws: Workspace) -> dict[str, Any]:
    return ws.control.export(user_id)


@router.delete(
    USERS, summary="Delete everything about this user; later events for the id are dropped"
)
def delete_user(user_id: str, ws: Workspace) -> dict[str, Any]:
    return ws.control.delete(user_id)


@router.post(USERS + "/onboarding", summary="Store onboarding answers as explicit data")
def answer_onboarding(user_id: str, body: OnboardingAnswers, ws: Workspace) -> dict[str, Any]:
    return ws.answer_onboarding(user_id, dict(body.answers))


@router.get("/v1/onboarding", response_model=Onboarding, summary="The onboarding questions")
def get_onboarding(ws: Workspace) -> Onboarding:
    return ws.onboarding()


@router.put("/v1/onboarding", response_model=Onboarding, summary="Set the onboarding questions")
def put_onboarding(body: Onboarding, ws: Workspace) -> Onboarding:
    return ws.put_onboarding(body)
