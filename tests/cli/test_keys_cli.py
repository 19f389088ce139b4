"""``launchpoint keys create|list|revoke``, run in-process on every backend, with the global
options of the real command line."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from launchpoint.cli import common, main_options
from launchpoint.cli.keys import keys_app
from launchpoint.errors import Unauthorized
from launchpoint.security import Authenticator, Scope, parse_key
from launchpoint.storage.database import Database
from launchpoint.storage.keys import KeyStore
from tests.cli.test_cli import ENV, clean, flat

runner = CliRunner()

# The lines cli/__init__.py uses to mount the group, on a root with the real global options.
root = typer.Typer(pretty_exceptions_enable=False)
root.callback()(main_options)
root.add_typer(keys_app, name="keys")


class Keys:
    def __init__(self, url: str, workspace: str) -> None:
        self.url = url
        self.workspace = workspace

    def __call__(self, *args: str, code: int = 0, workspace: str | None = None) -> Any:
        result = runner.invoke(
            root,
            ["--database-url", self.url, "--workspace", workspace or self.workspace, "keys", *args],
            env=ENV,
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result

    def store(self) -> KeyStore:
        db = Database(self.url)
        return KeyStore(db)


@pytest.fixture
def keys(backend_url: str, monkeypatch: pytest.MonkeyPatch) -> Keys:
    for console in (common.console, common.err_console):
        monkeypatch.setattr(console, "_width", 400)
    return Keys(backend_url, f"k{uuid.uuid4().hex[:12]}")


def test_create_prints_a_working_key_once_and_stores_only_its_hash(keys: Keys) -> None:
    result = keys("create", "--scope", "ingest", "-s", "serve", "--name", "web shop", "--rate", "5")
    token = result.stdout.strip().splitlines()[-1]
    parsed = parse_key(token)
    assert parsed is not None
    assert f"Created key {parsed.key_id} in workspace {keys.workspace!r}" in flat(result.stderr)
    assert "scopes: ingest, serve; rate: 5/s" in flat(result.stderr)
    store = keys.store()
    principal = Authenticator(store).authenticate(token)
    assert principal.workspace_id == keys.workspace
    assert principal.scopes == {Scope.INGEST, Scope.SERVE}
    assert principal.rate_per_second == 5.0
    record = store.get(parsed.key_id)
    assert record is not None and record.name == "web shop"
    assert parsed.secret not in repr(record)
    store.db.dispose()


def test_create_quiet_prints_the_key_alone_for_scripts(keys: Keys) -> None:
    result = keys("create", "--scope", "admin", "--quiet")
    assert parse_key(result.stdout.strip()) is not None
    assert result.stdout.count("\n") == 1


def test_create_refuses_an_unknown_scope_or_a_bad_rate(keys: Keys) -> None:
    result = keys("create", "--scope", "write", code=2)
    assert "unknown scope 'write': use admin, ingest, serve" in clean(result.output)
    result = keys("create", "--scope", "serve", "--rate", "0", code=2)
    assert "rate_per_second must be more than 0" in clean(result.output)
    result = keys("create", code=2)  # a scope is required
    assert "--scope" in clean(result.output)


def test_list_shows_the_workspace_keys_and_never_their_secrets(keys: Keys) -> None:
    first = keys("create", "--scope", "admin", "--name", "ops", "-q").stdout.strip()
    second = keys("create", "--scope", "serve", "-q").stdout.strip()
    keys("create", "--scope", "serve", "-q", workspace=f"{keys.workspace}x")  # another workspace
    table = keys("list").stdout
    for token in (first, second):
        parsed = parse_key(token)
        assert parsed is not None
        assert parsed.key_id in table and parsed.secret not in table
    assert "ops" in table and "active" in table
    listed = json.loads(keys("list", "--json").stdout)
    assert [k["id"] for k in listed] == [parse_key(t).key_id for t in (first, second)]  # type: ignore[union-attr]
    assert listed[0]["scopes"] == ["admin"] and listed[0]["revoked_at"] is None
    assert all("secret" not in json.dumps(k) for k in listed)


def test_list_of_a_workspace_without_keys_says_how_to_make_one(keys: Keys) -> None:
    assert "launchpoint keys create" in flat(keys("list").stdout)


def test_revoke_takes_an_id_or_the_whole_key_and_the_key_stops_working(keys: Keys) -> None:
    by_id = keys("create", "--scope", "admin", "-q").stdout.strip()
    by_token = keys("create", "--scope", "admin", "-q").stdout.strip()
    key_id = parse_key(by_id).key_id  # type: ignore[union-attr]
    assert f"Revoked key {key_id}" in flat(keys("revoke", key_id).stdout)
    keys("revoke", by_token)
    listed = json.loads(keys("list", "--json").stdout)
    assert all(k["revoked_at"] is not None for k in listed)
    store = keys.store()
    for token in (by_id, by_token):
        with pytest.raises(Unauthorized, match="was revoked"):
            Authenticator(store).authenticate(token)
    store.db.dispose()


def test_revoke_of_a_key_of_another_workspace_is_refused(keys: Keys) -> None:
    token = keys("create", "--scope", "admin", "-q", workspace=f"{keys.workspace}x").stdout
    key_id = parse_key(token.strip()).key_id  # type: ignore[union-attr]
    result = keys("revoke", key_id, code=2)
    assert f"no key {key_id!r} in workspace {keys.workspace!r}" in flat(result.output)
    listed = json.loads(keys("list", "--json", workspace=f"{keys.workspace}x").stdout)
    assert listed[0]["revoked_at"] is None
