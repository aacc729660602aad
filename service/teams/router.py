from typing import Annotated

from fastapi import APIRouter, Path

from service.bodies import Page
from service.deps import SecretDep, SessionDep, TeamDep
from service.teams import service
from service.teams.bodies import KeyCreated, KeyPublic, TeamPublic, TeamUpdate

router = APIRouter(prefix="/v1", tags=["teams"])

Prefix = Annotated[str, Path(min_length=1, max_length=16)]


@router.get("/team", response_model=TeamPublic)
def get_team(team: TeamDep):
    """The caller's team and its settings."""
    return TeamPublic.of(team)


@router.patch("/team", response_model=TeamPublic)
def update_team(body: TeamUpdate, session: SessionDep, team: TeamDep):
    """Change the team's settings: `log_payloads: false` stops storing request inputs/outputs;
    `drift_margin` is the drop of served field accuracy that raises a drift warning."""
    return TeamPublic.of(
        service.update_settings(
            session, team=team, log_payloads=body.log_payloads, drift_margin=body.drift_margin
        )
    )


@router.get("/keys", response_model=Page[KeyPublic])
def list_keys(session: SessionDep, team: TeamDep):
    """The team's API keys: prefix, created, last used, revoked."""
    keys = service.list_keys(session, team=team)
    return Page(data=[KeyPublic.of(k) for k in keys], count=len(keys))


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(session: SessionDep, team: TeamDep, secret: SecretDep):
    """A new API key for the team; the full key is in this answer only."""
    row, key = service.issue_key(session, team=team, secret=secret)
    return KeyCreated(**KeyPublic.of(row).model_dump(), key=key)


@router.delete("/keys/{prefix}", response_model=KeyPublic)
def revoke_key(prefix: Prefix, session: SessionDep, team: TeamDep):
    """Revoke a key: it and the dashboard sessions opened with it stop working at once."""
    return KeyPublic.of(service.revoke_key(session, team=team, prefix=prefix))
