"""The security guide's table of routes and scopes is the table the API enforces."""

from __future__ import annotations

import re
from pathlib import Path

from launchpoint.api.auth import PUBLIC_ROUTES, ROUTE_SCOPES

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "security.md"


def test_the_guide_lists_every_route_with_the_scope_it_needs() -> None:
    text = GUIDE.read_text()
    listed = {
        (method, path): scope
        for method, path, scope in re.findall(r"^\| `(\w+) (\S+)` \| (\w+) \|$", text, re.M)
    }
    expected = {route: scope.value for route, scope in ROUTE_SCOPES.items()}
    missing = [f"| `{m} {p}` | {s} |" for (m, p), s in expected.items() if listed.get((m, p)) != s]
    assert not missing, "put these rows in the table of docs/guides/security.md:\n" + "\n".join(
        missing
    )
    assert set(listed) == set(expected), f"rows for no route: {set(listed) - set(expected)}"


def test_the_guide_names_every_public_route() -> None:
    text = GUIDE.read_text()
    assert all(f"`{method} {path}`" in text for method, path in PUBLIC_ROUTES)
