"""What a key may do. Three scopes, so a key can live where it is needed and no further:
``ingest`` writes data (fit for a browser or a tracking pipeline), ``serve`` reads what a
product shows, ``admin`` does everything in its workspace."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from launchpoint.errors import InvalidInput


class Scope(StrEnum):
    ADMIN = "admin"
    INGEST = "ingest"
    SERVE = "serve"


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names; at least one, each known."""
    known = ", ".join(s.value for s in Scope)
    scopes: set[Scope] = set()
    for name in names:
        try:
            scopes.add(Scope(name.strip().lower()))
        except ValueError:
            raise InvalidInput(f"unknown scope {name!r}: use {known}") from None
    if not scopes:
        raise InvalidInput(f"a key needs at least one scope: {known}")
    return frozenset(scopes)


def grants(held: frozenset[Scope], needed: Scope) -> bool:
    """Whether keys holding ``held`` may use a route that needs ``needed``; admin reaches all."""
    return Scope.ADMIN in held or needed in held
