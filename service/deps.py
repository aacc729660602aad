"""FastAPI dependencies: the request's session (it owns the transaction) and its team."""

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from service.audit.service import record_request
from service.db import session_scope
from service.errors import FormwrightError, Unauthorized
from service.models import Team
from service.teams.service import authenticate, key_secret, session_team

COOKIE = "fw_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.db_engine) as session:
        yield session
        # Reached only when the route succeeded: the audit row commits with the change.
        record_request(session, request)


# scope="function": commit before the response is sent, so a 201 means stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_key(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_cookie_csrf(request: Request) -> None:
    """A change authenticated by the dashboard's cookie must come from the dashboard's script.

    SameSite=Strict already keeps the cookie off cross-site requests; the custom header (which
    a cross-site form cannot set) is the second lock. Only a Bearer key skips it, and a Bearer
    key is then the only credential looked at.
    """
    if request.method not in SAFE_METHODS and request.headers.get("x-formwright-ui") != "1":
        raise FormwrightError(
            "Requests signed in with the dashboard cookie must send 'X-Formwright-UI: 1'.",
            status_code=403,
            code="csrf_header_missing",
        )


def get_secret(request: Request) -> bytes:
    return key_secret(request.app.state.settings)


SecretDep = Annotated[bytes, Depends(get_secret)]


def get_team(request: Request, session: SessionDep, secret: SecretDep) -> Team:
    key = bearer_key(request)
    token = request.cookies.get(COOKIE)
    if key is not None:
        team, api_key = authenticate(session, key=key, secret=secret)
    elif token:
        check_cookie_csrf(request)
        team, api_key = session_team(session, token=token)
    else:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    request.state.team = team
    request.state.actor = api_key.prefix
    return team


TeamDep = Annotated[Team, Depends(get_team)]


def loaded_base(request: Request) -> str | None:
    """The fingerprint of the base model this process serves with (None until it is loaded)."""
    return request.app.state.inference.runtime.model_fingerprint


BaseDep = Annotated[str | None, Depends(loaded_base)]


def side_bases(request: Request) -> frozenset[str]:
    """Fingerprints of the base models loaded beside the default (FORMWRIGHT_BASE_MODELS)."""
    return request.app.state.inference.side_fingerprints


SideDep = Annotated[frozenset[str], Depends(side_bases)]


def check_scrape_token(request: Request) -> None:
    """/metrics names teams and schemas: a scraper shows FORMWRIGHT_METRICS_TOKEN as a Bearer
    token, unless the operator opened it with FORMWRIGHT_METRICS_TOKEN=public."""
    expected = request.app.state.settings.metrics_token
    if expected == "public":
        return
    if not expected:
        raise FormwrightError(
            "/metrics is closed: set FORMWRIGHT_METRICS_TOKEN (or `public`) on the server.",
            status_code=403,
            code="metrics_closed",
        )
    if not hmac.compare_digest((bearer_key(request) or "").encode(), expected.encode()):
        raise Unauthorized(
            "Send the scrape token as 'Authorization: Bearer <FORMWRIGHT_METRICS_TOKEN>'.",
            code="invalid_scrape_token",
            headers={"WWW-Authenticate": "Bearer"},
        )
