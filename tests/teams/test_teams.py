import os
import subprocess
import sys

from sqlmodel import Session, select

from service.models import ApiKey
from service.teams.service import create_team, hash_key


def test_keys_are_stored_hashed(engine):
    with Session(engine) as session:
        team, key = create_team(session, name="acme", secret=b"s3cret")
        session.commit()
        stored = session.exec(select(ApiKey).where(ApiKey.team_id == team.id)).one()
    assert key.startswith("fw_")
    assert stored.key_hash == hash_key(key, secret=b"s3cret")
    assert stored.key_hash != hash_key(key, secret=b"another")
    assert key not in stored.key_hash


def test_cli_creates_a_team_and_prints_the_key_last(tmp_path):
    env = {**os.environ, "FORMWRIGHT_DATA_DIR": str(tmp_path)}
    cli = [sys.executable, "-m", "cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [*cli, "teams", "create", "acme"], env=env, check=True, capture_output=True, text=True
    )
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("fw_")
    listed = subprocess.run(
        [*cli, "teams", "list"], env=env, check=True, capture_output=True, text=True
    )
    assert "acme" in listed.stdout
    again = subprocess.run(
        [*cli, "teams", "create", "acme"], env=env, capture_output=True, text=True
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr
