"""A live server on loopback for the client tests: real HTTP, as the client libraries speak it.

uvicorn runs the app in a thread of the test process, so it shares the session's loaded model
runtime (tiny or real) instead of loading its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import service.models  # noqa: F401
from service.app import create_app
from service.config import Settings
from service.db import make_engine
from tests.fixtures.app import TEST_SECRET, make_team

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"], "maxLength": 40},
        "condition": {"enum": ["rain", "snow", "sun", "wind", None]},
        "when": {"type": ["string", "null"], "maxLength": 40},
    },
    "required": ["city", "condition", "when"],
    "additionalProperties": False,
}


@dataclass
class Live:
    url: str
    key: str
    base_model: str
    settings: Settings
    db: Engine

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=120, **kwargs)

    def openai(self, **kwargs: Any) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.url + "/v1", api_key=self.key, max_retries=0, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_server(tmp: Path, runtime: Any, **settings: Any) -> Iterator[Live]:
    config = Settings(data_dir=tmp / "data", load_model=False, secret_key=TEST_SECRET, **settings)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_engine(config.resolved_database_url)
    SQLModel.metadata.create_all(db)
    app = create_app(config, db_engine=db, runtime=runtime)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    key = make_team(db, "alice")
    live = Live(f"http://127.0.0.1:{port}", key, config.base_model_name, config, db)
    assert live.post("/v1/schemas", {"name": "weather", "schema": WEATHER}).status_code == 201
    try:
        yield live
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        db.dispose()


@pytest.fixture(scope="module")
def tiny_live(tmp_path_factory: pytest.TempPathFactory, tiny_runtime: Any) -> Iterator[Live]:
    # A small input limit, so a long conversation is easy to write.
    yield from live_server(tmp_path_factory.mktemp("tiny-live"), tiny_runtime, max_input_tokens=200)


@pytest.fixture(scope="module")
def real_live(tmp_path_factory: pytest.TempPathFactory, real_runtime: Any) -> Iterator[Live]:
    # These tests are about what the clients get, not speed: on a shared 2-core machine a
    # request may wait long for its turn.
    yield from live_server(
        tmp_path_factory.mktemp("real-live"), real_runtime, request_timeout_s=600
    )
