from __future__ import annotations

import pytest

from console import csrf


def test_a_token_matches_only_its_own_nonce_and_key() -> None:
    key = csrf.derive_key("a-secret-of-at-least-thirty-two-characters")
    nonce = csrf.new_nonce()
    csrf.check(key, nonce, csrf.token_for(key, nonce))
    with pytest.raises(csrf.CsrfError, match="does not match"):
        csrf.check(key, csrf.new_nonce(), csrf.token_for(key, nonce))
    other = csrf.derive_key("another-secret-of-at-least-thirty-two-chars")
    with pytest.raises(csrf.CsrfError, match="does not match"):
        csrf.check(other, nonce, csrf.token_for(key, nonce))


@pytest.mark.parametrize(("nonce", "submitted"), [(None, "x"), ("n", None), ("", ""), ("n", "")])
def test_a_missing_nonce_or_token_is_refused(nonce: str | None, submitted: str | None) -> None:
    with pytest.raises(csrf.CsrfError, match="missing"):
        csrf.check(b"k", nonce, submitted)


def test_the_csrf_key_is_not_the_signing_secret() -> None:
    secret = "a-secret-of-at-least-thirty-two-characters"
    assert secret.encode() not in csrf.derive_key(secret)
    assert len(csrf.derive_key(secret)) == 32
