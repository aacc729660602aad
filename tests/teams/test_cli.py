"""The operator's side, with real processes: `formwright serve` keeps its secrets private and
prints the default key once; `formwright teams keys ...` rotates keys; `formwright audit`."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.workers.test_durability import Api


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True, check=check
    )


@pytest.mark.timeout(300)
def test_operator_rotates_keys_and_reads_the_audit_log(tmp_path: Path):
    data = tmp_path / "data"  # created by serve itself
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")},
        "FORMWRIGHT_DATA_DIR": str(data),
        "FORMWRIGHT_LOAD_MODEL": "false",
    }
    api = Api(env=env, log_dir=tmp_path)
    try:
        first = api.start()
        key_file = data / "default-team.key"
        key = key_file.read_text().strip()
        assert key in api.logs()
        for private in ("formwright.db", "secret.key", "default-team.key"):
            assert mode(data / private) == 0o600, private
        assert mode(data) == 0o700

        new_key = cli(env, "teams", "keys", "create", "default").stdout.strip().splitlines()[-1]
        assert new_key.startswith("fw_")
        listed = cli(env, "teams", "keys", "list", "default").stdout
        assert key[:12] in listed
        assert new_key[:12] in listed
        assert key not in listed
        assert first.get("/v1/schemas").status_code == 200
        assert "revoked" in cli(env, "teams", "keys", "revoke", key[:12]).stdout
        assert first.get("/v1/schemas").status_code == 401
        assert cli(env, "teams", "keys", "revoke", "fw_nope", check=False).returncode == 1

        cli(env, "teams", "payloads", "default", "--off")
        second = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {new_key}"})
        assert second.get("/v1/team").json()["log_payloads"] is False
        assert second.post("/v1/keys").status_code == 201

        client_env = {**env, "FORMWRIGHT_URL": api.url, "FORMWRIGHT_API_KEY": new_key}
        out = cli(client_env, "audit", "--json").stdout
        events = json.loads(out)["data"]
        assert [(e["action"], e["actor"]) for e in events[:4]] == [
            ("create_key", new_key[:12]),
            ("update_team", "cli"),
            ("revoke_key", "cli"),
            ("create_key", "cli"),
        ]
        assert "create_key" in cli(client_env, "audit").stdout

        api.stop_all()
        api.start()
        assert key_file.read_text().strip() == key
        second_start = sorted(tmp_path.glob("api-*.log"))[-1].read_text()
        assert f"in {key_file}" in second_start
        assert key not in second_start
        second.close()
        first.close()
    finally:
        api.stop_all()


def test_any_command_that_creates_the_data_dir_creates_it_private(tmp_path: Path):
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")},
        "FORMWRIGHT_DATA_DIR": str(data),
    }
    # Not serve, worker or db upgrade (it refuses: the database is not migrated yet).
    cli(env, "teams", "list", check=False)
    assert mode(data) == 0o700
    assert mode(data / "formwright.db") == 0o600


def test_a_team_command_on_an_unmigrated_database_says_to_migrate(tmp_path: Path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FORMWRIGHT_")},
        "FORMWRIGHT_DATA_DIR": str(tmp_path / "data"),
    }
    refused = cli(env, "teams", "create", "acme", check=False)
    assert refused.returncode == 1
    assert "formwright db upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr
    cli(env, "db", "upgrade")
    assert "created team 'acme'" in cli(env, "teams", "create", "acme").stdout
