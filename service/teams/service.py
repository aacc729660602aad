"""Teams, their API keys and the dashboard's sign-in sessions."""

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.config import Settings
from service.errors import Conflict, NotFound, Unauthorized, Unprocessable
from service.models import ApiKey, Team, UiSession, utcnow

KEY_PREFIX = "fw_"
PREFIX_LENGTH = 12  # "fw_" and 9 random characters: enough to name a key, useless to guess it
SESSION_TTL = timedelta(days=7)
# Writing last_used_at on every request would make every read a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_secrets: dict[tuple[str | None, Path], bytes] = {}


def key_secret(settings: Settings) -> bytes:
    """The server secret API keys are hashed with: FORMWRIGHT_SECRET_KEY, or a random one made
    once in the data dir (0600). Servers sharing one database must share it."""
    cache_key = (settings.secret_key, settings.data_dir.resolve())
    if cache_key not in _secrets:
        if settings.secret_key:
            _secrets[cache_key] = settings.secret_key.encode()
        else:
            _secrets[cache_key] = _secret_file(settings.private_data_dir() / "secret.key")
    return _secrets[cache_key]


def _secret_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return bytes.fromhex(path.read_text().strip())


def legacy_digest(key: str) -> str:
    """What keys were stored as before they were keyed (migration 0004 wraps these)."""
    return hashlib.sha256(key.encode()).hexdigest()


def keyed_digest(digest: str, *, secret: bytes) -> str:
    return hmac.new(secret, digest.encode(), hashlib.sha256).hexdigest()


def hash_key(key: str, *, secret: bytes) -> str:
    return keyed_digest(legacy_digest(key), secret=secret)


def create_team(session: Session, *, name: str, secret: bytes) -> tuple[Team, str]:
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
    return team, issue_key(session, team=team, secret=secret)[1]


def issue_key(session: Session, *, team: Team, secret: bytes) -> tuple[ApiKey, str]:
    """A new key for the team; the raw key is returned only here."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(team_id=team.id, key_hash=hash_key(key, secret=secret), prefix=key[:PREFIX_LENGTH])
    session.add(row)
    session.flush()
    return row, key


def list_keys(session: Session, *, team: Team) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).where(ApiKey.team_id == team.id).order_by(ApiKey.id)))


def revoke_key(session: Session, *, prefix: str, team: Team | None = None) -> ApiKey:
    """Revoke the key with this prefix (within `team` when given); its sessions end with it."""
    query = select(ApiKey).where(ApiKey.prefix == prefix)
    if team is not None:
        query = query.where(ApiKey.team_id == team.id)
    found = list(session.exec(query))
    if not found:
        raise NotFound(f"No API key with prefix '{prefix}'.", code="key_not_found")
    if len(found) > 1:
        raise Conflict(f"Several keys start with '{prefix}'.", code="key_prefix_ambiguous")
    key = found[0]
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        session.exec(  # type: ignore[call-overload]
            update(UiSession)
            .where(UiSession.api_key_id == key.id, UiSession.revoked_at.is_(None))  # type: ignore[union-attr]
            .values(revoked_at=key.revoked_at)
        )
        session.flush()
    return key


def list_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(Team.id)))


def get_team_by_name(session: Session, *, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name == name)).first()


def require_team(session: Session, *, name: str) -> Team:
    team = get_team_by_name(session, name=name)
    if team is None:
        raise NotFound(f"No team '{name}'.", code="team_not_found")
    return team


def set_log_payloads(session: Session, *, team: Team, enabled: bool) -> Team:
    return update_settings(session, team=team, log_payloads=enabled)


def update_settings(
    session: Session,
    *,
    team: Team,
    log_payloads: bool | None = None,
    drift_margin: float | None = None,
) -> Team:
    """Change the settings given (None leaves one as it is)."""
    if log_payloads is not None:
        team.log_payloads = log_payloads
    if drift_margin is not None:
        team.drift_margin = drift_margin
    session.add(team)
    session.flush()
    return team


def _touch(session: Session, key: ApiKey, now: datetime) -> None:
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.add(key)


def authenticate(session: Session, *, key: str | None, secret: bytes) -> tuple[Team, ApiKey]:
    """The team and key an API key belongs to; a revoked key fails at once."""
    if not key:
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    row = session.exec(
        select(ApiKey, Team)
        .join(Team, Team.id == ApiKey.team_id)
        .where(
            ApiKey.key_hash == hash_key(key, secret=secret),
            ApiKey.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if row is None:
        raise Unauthorized("The API key is not valid.", code="invalid_api_key")
    api_key, team = row
    _touch(session, api_key, utcnow())
    return team, api_key


def token_digest(token: str) -> str:
    # The token is 256 random bits: a plain digest cannot be reversed or guessed.
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, *, key: str, secret: bytes) -> tuple[Team, ApiKey, str]:
    """Sign in to the dashboard with an API key: a new random session token (returned once)."""
    team, api_key = authenticate(session, key=key.strip(), secret=secret)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UiSession(
            api_key_id=api_key.id,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    session.flush()
    return team, api_key, token


def session_team(session: Session, *, token: str) -> tuple[Team, ApiKey]:
    """The team of a live dashboard session: not expired, not signed out, its key not revoked."""
    now = utcnow()
    row = session.exec(
        select(Team, ApiKey)
        .join(ApiKey, ApiKey.team_id == Team.id)
        .join(UiSession, UiSession.api_key_id == ApiKey.id)
        .where(
            UiSession.token_hash == token_digest(token),
            UiSession.revoked_at.is_(None),  # type: ignore[union-attr]
            UiSession.expires_at > now,
            ApiKey.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if row is None:
        raise Unauthorized("The dashboard session has ended; sign in again.", code="session_ended")
    return row


def close_session(session: Session, *, token: str) -> tuple[Team, ApiKey] | None:
    """Sign out: the session ends on the server. The team and key it belonged to, if it was live."""
    try:
        owner = session_team(session, token=token)
    except Unauthorized:
        owner = None
    session.exec(  # type: ignore[call-overload]
        update(UiSession)
        .where(UiSession.token_hash == token_digest(token), UiSession.revoked_at.is_(None))  # type: ignore[union-attr]
        .values(revoked_at=utcnow())
    )
    session.flush()
    return owner
