import hashlib
import secrets

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.errors import Conflict, Unauthorized, Unprocessable
from service.models import ApiKey, Team

KEY_PREFIX = "fw_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_team(session: Session, *, name: str) -> tuple[Team, str]:
    """Create a team and its first API key; the key is returned once and stored hashed."""
    name = name.strip()
    if not name or len(name) > 64:
        raise Unprocessable("A team name is 1 to 64 characters.", code="invalid_team_name")
    if session.exec(select(Team).where(Team.name == name)).first():
        raise Conflict(f"Team '{name}' already exists.", code="team_exists")
    team = Team(name=name)
    session.add(team)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Team '{name}' already exists.", code="team_exists") from exc
    return team, issue_key(session, team=team)


def issue_key(session: Session, *, team: Team) -> str:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(team_id=team.id, key_hash=hash_key(key), prefix=key[:10]))
    session.flush()
    return key


def list_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(Team.id)))


def get_team_by_name(session: Session, *, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name == name)).first()


def authenticate(session: Session, *, key: str | None) -> Team:
    if not key:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    row = session.exec(
        select(ApiKey, Team)
        .join(Team, Team.id == ApiKey.team_id)
        .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")
    return row[1]
