"""The API client: one ApiError for every failure, pages, and where the URL and key come from."""

import json
import stat
from pathlib import Path

import httpx
import pytest

from cli.client import (
    DEFAULT_URL,
    ApiError,
    Client,
    read_config,
    resolve_credentials,
    write_config,
)


def client_for(handler) -> Client:
    return Client("http://formwright.test", "fw_key", transport=httpx.MockTransport(handler))


def test_server_error_body_becomes_one_api_error():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer fw_key"
        body = {
            "error": "invalid_examples",
            "detail": "1 of 2 examples are invalid; none were stored.",
            "errors": [{"index": 1, "path": "/output/category", "message": "not one of"}],
        }
        return httpx.Response(422, json=body)

    with pytest.raises(ApiError) as caught, client_for(handler) as client:
        client.add_examples("tickets", [{"input": "a"}, {"input": "b"}])
    exc = caught.value
    assert exc.status_code == 422
    assert exc.code == "invalid_examples"
    assert exc.detail == "1 of 2 examples are invalid; none were stored."
    assert exc.errors == [{"index": 1, "path": "/output/category", "message": "not one of"}]
    assert exc.body()["error"] == "invalid_examples"


def test_a_non_json_error_still_says_what_happened():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    with pytest.raises(ApiError) as caught, client_for(handler) as client:
        client.list_schemas()
    assert caught.value.status_code == 502
    assert caught.value.code == "http_error"
    assert "502" in caught.value.detail
    assert "Bad Gateway" in caught.value.detail


def test_no_server_is_a_connection_error_naming_the_url():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ApiError) as caught, client_for(handler) as client:
        client.get_schema("tickets")
    assert caught.value.code == "connection_error"
    assert caught.value.status_code == 0
    assert "http://formwright.test" in caught.value.detail
    assert "FORMWRIGHT_URL" in caught.value.detail


def test_timeout_is_an_api_error():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ApiError) as caught, client_for(handler) as client:
        client.generate("tickets", "hello")
    assert caught.value.code == "timeout"


def test_missing_key_is_explained():
    def handler(request: httpx.Request) -> httpx.Response:
        assert "authorization" not in request.headers
        return httpx.Response(401, json={"error": "unauthorized", "detail": "x", "errors": []})

    client = Client("http://formwright.test", None, transport=httpx.MockTransport(handler))
    with pytest.raises(ApiError) as caught:
        client.list_schemas()
    assert "FORMWRIGHT_API_KEY" in caught.value.detail
    assert "formwright login" in caught.value.detail


def test_pages_fetches_every_page():
    items = [{"name": f"s{i}"} for i in range(450)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        return httpx.Response(200, json={"data": items[offset : offset + limit], "count": 450})

    with client_for(handler) as client:
        assert client.list_schemas() == items


def test_jsonl_import_is_sent_as_ndjson_and_names_are_one_path_segment():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"] = request.url.raw_path.decode()
        seen["type"] = request.headers["content-type"]
        seen["body"] = request.content.decode()
        return httpx.Response(201, json={"name": "a/b", "version": 1, "added": 1, "duplicates": 0})

    with client_for(handler) as client:
        client.import_examples("a/b", '{"input": "x"}\n', version=2)
    assert seen["path"] == "/v1/schemas/a%2Fb/examples?version=2"
    assert seen["type"] == "application/x-ndjson"
    assert seen["body"] == '{"input": "x"}\n'


def test_login_file_is_private_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("FORMWRIGHT_URL", raising=False)
    monkeypatch.delenv("FORMWRIGHT_API_KEY", raising=False)
    assert resolve_credentials().url == DEFAULT_URL
    assert resolve_credentials().api_key is None

    path = write_config({"url": "http://saved:9000", "api_key": "fw_saved"})
    assert path == tmp_path / "formwright" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_config() == {"url": "http://saved:9000", "api_key": "fw_saved"}
    creds = resolve_credentials()
    assert (creds.url, creds.api_key) == ("http://saved:9000", "fw_saved")

    monkeypatch.setenv("FORMWRIGHT_URL", "http://env:1")
    monkeypatch.setenv("FORMWRIGHT_API_KEY", "fw_env")
    creds = resolve_credentials()
    assert (creds.url, creds.api_key, creds.source) == (
        "http://env:1",
        "fw_env",
        "FORMWRIGHT_API_KEY",
    )


def test_rewriting_a_world_readable_config_makes_it_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    path = tmp_path / "formwright" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"url": "http://old"}))
    path.chmod(0o644)
    write_config({"url": "http://new", "api_key": "k"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_broken_config_file_is_an_api_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "formwright").mkdir()
    (tmp_path / "formwright" / "config.json").write_text("{not json")
    with pytest.raises(ApiError) as caught:
        read_config()
    assert caught.value.code == "bad_config"


def test_a_dropped_keepalive_connection_is_retried_once_for_get_only():
    calls = {"GET": 0, "POST": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls[request.method] += 1
        if calls[request.method] == 1:
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(200, json={"id": 1})

    with client_for(handler) as client:
        assert client.get_job(1) == {"id": 1}
        with pytest.raises(ApiError) as caught:
            client.cancel_job(1)
    assert calls == {"GET": 2, "POST": 1}
    assert caught.value.code == "connection_error"


def test_a_loading_or_busy_server_is_waited_for_as_retry_after_says():
    answers = [
        httpx.Response(
            503,
            json={"error": "model_loading", "detail": "The base model is still loading."},
            headers={"Retry-After": "5"},
        ),
        httpx.Response(
            429, json={"error": "queue_full", "detail": "busy"}, headers={"Retry-After": "2"}
        ),
        httpx.Response(200, json={"data": [], "count": 0}),
    ]
    messages, slept = [], []
    client = Client(
        "http://formwright.test",
        "fw_key",
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
        on_retry=messages.append,
        sleep=slept.append,
    )
    assert client.list_schemas() == []
    assert slept == [5.0, 2.0]
    assert "still loading" in messages[0]
    assert "Retrying in 5 s" in messages[0]
    assert "busy" in messages[1]


def test_retrying_stops_at_the_budget_and_other_errors_are_final():
    def loading(request: httpx.Request) -> httpx.Response:
        body = {"error": "model_loading", "detail": "loading"}
        return httpx.Response(503, json=body, headers={"Retry-After": "30"})

    slept: list[float] = []
    client = Client(
        "http://formwright.test",
        "fw_key",
        transport=httpx.MockTransport(loading),
        retry_budget_s=100,
        sleep=slept.append,
    )
    with pytest.raises(ApiError) as caught:
        client.list_schemas()
    assert caught.value.code == "model_loading"
    assert slept == [30.0, 30.0, 30.0]  # a fourth wait would pass the 100 s budget

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "detail": "down"})

    slept.clear()
    client = Client(
        "http://formwright.test",
        "fw_key",
        transport=httpx.MockTransport(failing),
        sleep=slept.append,
    )
    with pytest.raises(ApiError):
        client.list_schemas()
    assert slept == []
