from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from launchpoint.errors import InvalidInput
from launchpoint.security import (
    Scope,
    generate_key,
    hash_secret,
    key_id_of,
    parse_key,
    secret_matches,
)


def test_a_new_key_parses_back_to_its_id_and_a_secret_that_matches_the_stored_hash() -> None:
    key = generate_key("shop", ["serve", "ingest"], name="web", now=10.0)
    parsed = parse_key(key.token)
    assert parsed is not None and parsed.key_id == key.record.id
    assert key.token.startswith(f"lp_{key.record.id}_")
    assert secret_matches(parsed.secret, key.record.secret_hash)
    assert key.record.scopes == ("ingest", "serve")
    assert (key.record.workspace_id, key.record.name, key.record.created_at) == (
        "shop",
        "web",
        10.0,
    )
    assert key.record.revoked_at is None


def test_the_secret_is_not_stored_only_its_hash() -> None:
    key = generate_key("shop", [Scope.ADMIN])
    parsed = parse_key(key.token)
    assert parsed is not None
    assert parsed.secret not in repr(key.record)
    assert key.record.secret_hash == hash_secret(parsed.secret)
    assert key.record.secret_hash.startswith("sha256:")


def test_two_keys_never_share_an_id_or_a_secret() -> None:
    tokens = {generate_key("shop", ["serve"]).token for _ in range(200)}
    ids = {t.split("_")[1] for t in tokens}
    assert len(tokens) == len(ids) == 200


@given(st.text(max_size=80))
def test_a_wrong_secret_never_matches(secret: str) -> None:
    key = generate_key("shop", ["serve"])
    parsed = parse_key(key.token)
    assert parsed is not None
    if secret != parsed.secret:
        assert not secret_matches(secret, key.record.secret_hash)


@given(st.text(max_size=120))
def test_parse_key_accepts_only_the_key_shape(text: str) -> None:
    parsed = parse_key(text)
    if parsed is not None:
        assert text == f"lp_{parsed.key_id}_{parsed.secret}"


@pytest.mark.parametrize(
    "text",
    ["", "lp_", "lp_abc_def", "xx_0123456789ab_" + "a" * 43, "lp_0123456789AB_" + "a" * 43,
     "lp_0123456789ab_" + "a" * 43 + "!", "launchpoint-dev-admin-key"],
)  # fmt: skip
def test_malformed_keys_do_not_parse(text: str) -> None:
    assert parse_key(text) is None


def test_an_unknown_hash_scheme_never_matches() -> None:
    assert not secret_matches("s", "md5:" + "0" * 32)
    assert not secret_matches("s", hash_secret("s").replace("sha256", "plain"))


def test_scopes_and_rate_are_checked() -> None:
    with pytest.raises(InvalidInput, match="unknown scope 'write'"):
        generate_key("shop", ["write"])
    with pytest.raises(InvalidInput, match="at least one scope"):
        generate_key("shop", [])
    with pytest.raises(InvalidInput, match="more than 0"):
        generate_key("shop", ["serve"], rate_per_second=0)


def test_key_id_of_takes_an_id_or_a_whole_key() -> None:
    key = generate_key("shop", ["serve"])
    assert key_id_of(key.token) == key.record.id
    assert key_id_of(f"  {key.record.id} ") == key.record.id
