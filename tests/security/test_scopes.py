from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpoint.errors import InvalidInput
from launchpoint.security import Scope, grants, parse_scopes

scope_sets = st.frozensets(st.sampled_from(list(Scope)))


@given(scope_sets, st.sampled_from(list(Scope)))
def test_admin_reaches_everything_and_other_scopes_only_themselves(
    held: frozenset[Scope], needed: Scope
) -> None:
    assert grants(held, needed) == (Scope.ADMIN in held or needed in held)


def test_ingest_and_serve_do_not_reach_each_other_or_admin() -> None:
    assert not grants(frozenset({Scope.INGEST}), Scope.SERVE)
    assert not grants(frozenset({Scope.SERVE}), Scope.INGEST)
    assert not grants(frozenset({Scope.SERVE, Scope.INGEST}), Scope.ADMIN)
    assert grants(frozenset({Scope.ADMIN}), Scope.INGEST)


def test_parse_scopes_reads_names_in_any_case_and_refuses_unknown_ones() -> None:
    assert parse_scopes([" Serve", "INGEST", "serve"]) == {Scope.SERVE, Scope.INGEST}
    with pytest.raises(InvalidInput, match="use admin, ingest, serve"):
        parse_scopes(["read"])
    with pytest.raises(InvalidInput, match="at least one"):
        parse_scopes([])
