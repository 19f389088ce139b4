"""Onboarding questions a workspace asks new users, and how answers become explicit profile
data: the answer is stored under the question's attribute, and the categories of the chosen
options become stated interests, so the first ribbons reflect them before any event."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from launchpoint.errors import ErrorDetail, InvalidInput

_ID = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class OnboardingOption(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(..., min_length=1, max_length=128)
    label: str = Field("", max_length=256)
    categories: list[str] = Field(
        default_factory=list, description="Categories this answer states an interest in."
    )


class OnboardingQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., pattern=_ID)
    text: str = Field(..., min_length=1, max_length=512)
    kind: Literal["single", "multiple"] = "single"
    options: list[OnboardingOption] = Field(..., min_length=1, max_length=100)
    attribute: str | None = Field(
        None, pattern=_ID, description="User attribute the answer is kept in; default: the id."
    )

    @property
    def target(self) -> str:
        return self.attribute or self.id

    @model_validator(mode="after")
    def _distinct_values(self) -> OnboardingQuestion:
        values = [o.value for o in self.options]
        if len(set(values)) != len(values):
            raise ValueError(f"question {self.id!r} lists an option value twice")
        return self


class Onboarding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: list[OnboardingQuestion] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _distinct_ids(self) -> Onboarding:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("two questions have the same id")
        return self


def apply_answers(
    onboarding: Onboarding, answers: dict[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """(attributes to set, categories stated) for a user's answers; every bad answer is
    reported at once."""
    questions = {q.id: q for q in onboarding.questions}
    attributes: dict[str, Any] = {}
    stated: set[str] = set()
    problems: list[ErrorDetail] = []
    for question_id, answer in answers.items():
        question = questions.get(question_id)
        if question is None:
            known = ", ".join(sorted(questions)) or "none: no onboarding questions are defined"
            problems.append(
                ErrorDetail(f"answers.{question_id}", f"no such question; questions: {known}")
            )
            continue
        chosen = answer if isinstance(answer, list) else [answer]
        if question.kind == "single" and len(chosen) != 1:
            problems.append(
                ErrorDetail(f"answers.{question_id}", "this question takes exactly one answer")
            )
            continue
        options = {o.value: o for o in question.options}
        unknown = [str(v) for v in chosen if str(v) not in options]
        if unknown:
            allowed = ", ".join(repr(v) for v in options)
            problems.append(
                ErrorDetail(
                    f"answers.{question_id}",
                    f"{', '.join(map(repr, unknown))} is not an option; allowed: {allowed}",
                )
            )
            continue
        values = [str(v) for v in chosen]
        attributes[question.target] = values[0] if question.kind == "single" else values
        for value in values:
            stated.update(options[value].categories)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(f"{first.loc}: {first.message}{more}", problems)
    return attributes, stated
