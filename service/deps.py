"""FastAPI dependencies: the request's session (it owns the transaction) and its team."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from service.db import session_scope
from service.errors import FormwrightError
from service.models import Team
from service.teams.service import authenticate


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.db_engine) as session:
        yield session


# scope="function": commit before the response is sent, so a 201 means stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get("fw_session")


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def check_cookie_csrf(request: Request) -> None:
    """A change authenticated by the dashboard's cookie must come from the dashboard's script.

    SameSite=Strict already keeps the cookie off cross-site requests; the custom header (which
    a cross-site form cannot set) is the second lock.
    """
    if (
        request.method not in SAFE_METHODS
        and "authorization" not in request.headers
        and "fw_session" in request.cookies
        and request.headers.get("x-formwright-ui") != "1"
    ):
        raise FormwrightError(
            "Requests signed in with the dashboard cookie must send 'X-Formwright-UI: 1'.",
            status_code=403,
            code="csrf_header_missing",
        )


def get_team(request: Request, session: SessionDep) -> Team:
    check_cookie_csrf(request)
    team = authenticate(session, key=bearer_key(request))
    request.state.team = team
    return team


TeamDep = Annotated[Team, Depends(get_team)]
