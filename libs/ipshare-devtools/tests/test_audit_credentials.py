"""How `ipshare verify` and `ipshare export` are known to the services: a token as given, or one they get
themselves from the identity provider by client credentials (over real HTTP to the development issuer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ipshare.auth import Role
from ipshare.dev_issuer import AUDITOR_CLIENT
from ipshare.identity import read_token
from ipshare.settings import ServiceSettings
from ipshare_devtools.audit_commands import Credentials
from ipshare_devtools.cli import app
from ipshare_devtools.testing.issuer import ServedIssuer, served_issuer


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedIssuer]:
    with served_issuer(tmp_path / "issuer") as issuer:
        yield issuer


def settings_of(served: ServedIssuer) -> ServiceSettings:
    return ServiceSettings(oidc_issuer=served.url, ipshare_dev_mode=True)


def test_the_auditors_client_gets_an_auditors_token_by_client_credentials(served: ServedIssuer) -> None:
    settings = settings_of(served)
    token = Credentials(client_id=AUDITOR_CLIENT, client_secret=served.issuer.client_secret).bearer(settings)
    principal = read_token(settings, token)
    assert (principal.role, principal.subject) == (Role.AUDITOR, AUDITOR_CLIENT)
    assert served.requests["/token"] == 1


def test_a_given_token_is_used_as_it_is(served: ServedIssuer) -> None:
    given = served.issuer.person_token(Role.AUDITOR, name="Zhou Jie")
    credentials = Credentials(token=given, client_id=AUDITOR_CLIENT, client_secret="unused")
    assert credentials.bearer(settings_of(served)) == given
    assert served.requests["/token"] == 0


@pytest.mark.parametrize(
    ("client_id", "secret", "reason"),
    [("ip-registry", None, "role service"), (AUDITOR_CLIENT, "guessed", "refused a token")],
)
def test_a_client_that_is_no_auditor_or_a_wrong_secret_is_refused_with_the_reason(
    served: ServedIssuer, client_id: str, secret: str | None, reason: str
) -> None:
    credentials = Credentials(client_id=client_id, client_secret=secret or served.issuer.client_secret)
    with pytest.raises(typer.BadParameter, match=reason):
        credentials.bearer(settings_of(served))


def test_client_credentials_need_an_issuer_to_ask() -> None:
    with pytest.raises(typer.BadParameter, match="OIDC_ISSUER"):
        Credentials(client_id=AUDITOR_CLIENT, client_secret="s").bearer(ServiceSettings(ipshare_dev_mode=True))


def test_verify_takes_its_client_from_the_environment(served: ServedIssuer) -> None:
    """The command reads IPSHARE_CLIENT_ID / IPSHARE_CLIENT_SECRET; a client that is no auditor stops it
    before it asks any service."""
    env = {"OIDC_ISSUER": served.url, "IPSHARE_DEV_MODE": "true", "IPSHARE_CLIENT_ID": "revenue-share",
           "IPSHARE_CLIENT_SECRET": served.issuer.client_secret}  # fmt: skip
    result = CliRunner().invoke(app, ["verify"], env=env)
    assert result.exit_code == 2, result.output
    assert "role service" in result.output
    assert served.requests["/token"] == 1
