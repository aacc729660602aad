"""A small client of the Formwright HTTP API (what the `formwright` CLI commands call).

Every failure, from a refused connection to a 422, becomes one `ApiError` carrying the
server's `{"error", "detail", "errors"}`, so callers handle one exception.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 30.0
# A generate call waits in the server's queue (request_timeout_s, 60 s by default) and then runs.
GENERATE_TIMEOUT_S = 180.0
# An evaluation run decodes its whole eval set (up to 500 examples) within the request.
EVALUATION_TIMEOUT_S = 1800.0
UPLOAD_TIMEOUT_S = 300.0
PAGE_LIMIT = 200
# Waiting out a 503 `model_loading` or a 429: the first start converts the base model (~20 s
# on a 2-core CPU) and a full queue drains in seconds, so five minutes is patience, not a hang.
RETRY_BUDGET_S = 300.0
RETRY_MAX_WAIT_S = 30.0  # one wait, whatever Retry-After says
RETRY_DEFAULT_S = 5.0  # when Retry-After is missing or not a number of seconds


def retry_delay(response: httpx.Response) -> float | None:
    """How long to wait before sending again, or None when the answer is final. Only a busy
    server (429) or one still loading its model (503 `model_loading`) is worth waiting for."""
    if response.status_code == 503:
        try:
            loading = response.json().get("error") == "model_loading"
        except (ValueError, AttributeError):
            loading = False
        if not loading:
            return None
    elif response.status_code != 429:
        return None
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        seconds = RETRY_DEFAULT_S
    return min(max(seconds, 0.0), RETRY_MAX_WAIT_S)


class ApiError(Exception):
    """An error answer from the server, or no answer at all (`status_code` 0)."""

    def __init__(
        self,
        detail: str,
        *,
        status_code: int = 0,
        code: str = "error",
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.code = code
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, "errors": self.errors}

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            errors = body.get("errors")
            return cls(
                body["detail"],
                status_code=response.status_code,
                code=str(body.get("error") or "http_error"),
                errors=errors if isinstance(errors, list) else [],
            )
        text = response.text.strip()[:300] or response.reason_phrase
        return cls(
            f"HTTP {response.status_code} from {response.request.url}: {text}",
            status_code=response.status_code,
            code="http_error",
        )


# --- where the URL and key come from ----------------------------------------------------


def config_path() -> Path:
    """The user config file `formwright login` writes (XDG config dir)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "formwright" / "config.json"


def read_config(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ApiError(f"Cannot read {path}: {exc}", code="bad_config") from exc
    return data if isinstance(data, dict) else {}


def write_config(data: dict[str, Any], path: Path | None = None) -> Path:
    """Write the config readable by its owner only (0600), even if it existed before."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    return path


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str | None
    source: str  # where the key came from, for messages


def resolve_credentials() -> Credentials:
    """FORMWRIGHT_URL / FORMWRIGHT_API_KEY win over the login file; the URL has a default."""
    stored = read_config()
    env_url = os.environ.get("FORMWRIGHT_URL")
    env_key = os.environ.get("FORMWRIGHT_API_KEY")
    url = env_url or stored.get("url") or DEFAULT_URL
    if env_key:
        return Credentials(url=url, api_key=env_key, source="FORMWRIGHT_API_KEY")
    key = stored.get("api_key")
    return Credentials(url=url, api_key=key, source=str(config_path()) if key else "")


# --- the client ----------------------------------------------------------------------------


class Client:
    """The Formwright API over httpx; methods return the decoded JSON body."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
        on_retry: Callable[[str], None] | None = None,
        retry_budget_s: float = RETRY_BUDGET_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`on_retry` hears why and how long the client waits before sending a request again
        (429, 503 `model_loading`); it waits at most `retry_budget_s` in all per request."""
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.on_retry = on_retry
        self.retry_budget_s = retry_budget_s
        self.sleep = sleep
        headers = {"User-Agent": "formwright-cli"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        creds = resolve_credentials()
        return cls(creds.url, creds.api_key, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        kwargs: dict[str, Any] = {"headers": headers}
        if params:
            kwargs["params"] = {k: v for k, v in params.items() if v is not None}
        if json_body is not None:
            kwargs["json"] = json_body
        if content is not None:
            kwargs["content"] = content
        if timeout is not None:
            kwargs["timeout"] = timeout
        waited = 0.0
        while True:
            response = self._send(method, path, kwargs)
            delay = retry_delay(response)
            if delay is None or waited + delay > self.retry_budget_s:
                break
            if self.on_retry is not None:
                reason = ApiError.from_response(response).detail
                self.on_retry(
                    f"{reason} (HTTP {response.status_code}) Retrying in {delay:g} s "
                    f"(waited {waited:g} s of at most {self.retry_budget_s:g} s)."
                )
            self.sleep(delay)
            waited += delay
        return self._decode(method, path, response)

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        try:
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                # The server closed a kept-alive connection as we reused it: a GET is safe to
                # send again, once.
                if method != "GET":
                    raise
                response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiError(
                f"{self.base_url} did not answer {method} {path} in time ({exc}).", code="timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise ApiError(
                f"Cannot reach Formwright at {self.base_url} ({exc}). Is `formwright serve` "
                "running there? Set FORMWRIGHT_URL or run `formwright login --url ...`.",
                code="connection_error",
            ) from exc
        return response

    def _decode(self, method: str, path: str, response: httpx.Response) -> Any:
        if response.status_code == 401 and not self.api_key:
            raise ApiError(
                "No API key: set FORMWRIGHT_API_KEY or run `formwright login`.",
                status_code=401,
                code="unauthorized",
            )
        if response.is_error:
            raise ApiError.from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(
                f"{method} {path} answered something that is not JSON.",
                status_code=response.status_code,
                code="bad_response",
            ) from exc

    def pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a `{data, count}` list endpoint, page after page."""
        offset = 0
        while True:
            page = self.request(
                "GET", path, params={**(params or {}), "offset": offset, "limit": PAGE_LIMIT}
            )
            data = page.get("data") or []
            yield from data
            offset += len(data)
            if not data or offset >= page.get("count", 0):
                return

    # registry
    def register_schema(
        self, name: str, schema: Any, *, description: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "schema": schema}
        if description is not None:
            body["description"] = description
        return self.request("POST", "/v1/schemas", json_body=body)

    def list_schemas(self) -> list[dict[str, Any]]:
        return list(self.pages("/v1/schemas"))

    def get_schema(self, name: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/schemas/{_seg(name)}")

    def get_version(self, name: str, version: int | str = "latest") -> dict[str, Any]:
        return self.request("GET", f"/v1/schemas/{_seg(name)}/versions/{version}")

    def list_versions(self, name: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/v1/schemas/{_seg(name)}/versions")["data"]

    def check_compatibility(
        self, name: str, schema: Any, *, compatibility: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"schema": schema}
        if compatibility:
            body["compatibility"] = compatibility
        return self.request("POST", f"/v1/schemas/{_seg(name)}/compatibility", json_body=body)

    # examples
    def add_examples(
        self, name: str, rows: list[dict[str, Any]], *, version: int | None = None
    ) -> dict[str, Any]:
        return self.request(
            "POST",
            f"/v1/schemas/{_seg(name)}/examples",
            json_body=rows,
            params={"version": version},
            timeout=UPLOAD_TIMEOUT_S,
        )

    def import_examples(self, name: str, jsonl: str, *, version: int | None = None) -> Any:
        """Send a JSONL text as is: the server reports bad lines by index and line number."""
        return self.request(
            "POST",
            f"/v1/schemas/{_seg(name)}/examples",
            content=jsonl.encode(),
            headers={"Content-Type": "application/x-ndjson"},
            params={"version": version},
            timeout=UPLOAD_TIMEOUT_S,
        )

    def carry_examples(self, name: str, *, source: int, target: int | None) -> dict[str, Any]:
        body = {"from": source, **({"to": target} if target is not None else {})}
        return self.request("POST", f"/v1/schemas/{_seg(name)}/examples/carry", json_body=body)

    def list_examples(
        self, name: str, *, version: int | None = None, labeled: bool | None = None
    ) -> Iterator[dict[str, Any]]:
        labeled_param = None if labeled is None else str(labeled).lower()
        return self.pages(
            f"/v1/schemas/{_seg(name)}/examples",
            {"version": version, "labeled": labeled_param},
        )

    # jobs and adapters
    def create_job(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/v1/schemas/{_seg(name)}/jobs", json_body=params)

    def get_job(self, job_id: int) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")

    def list_jobs(self, name: str, *, state: str | None = None) -> list[dict[str, Any]]:
        return list(self.pages(f"/v1/schemas/{_seg(name)}/jobs", {"state": state}))

    def cancel_job(self, job_id: int) -> dict[str, Any]:
        return self.request("POST", f"/v1/jobs/{job_id}/cancel")

    def list_adapters(self, name: str) -> list[dict[str, Any]]:
        return list(self.pages(f"/v1/schemas/{_seg(name)}/adapters"))

    def adapter_action(self, adapter_id: int, action: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/adapters/{adapter_id}/{action}")

    def retrain(self, *, dry_run: bool, name: str | None = None) -> dict[str, Any]:
        body = {"dry_run": dry_run, **({"name": name} if name else {})}
        return self.request("POST", "/v1/retrain", json_body=body)

    def run_evaluation(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request(
            "POST",
            f"/v1/schemas/{_seg(name)}/evaluations",
            json_body=body,
            timeout=EVALUATION_TIMEOUT_S,
        )

    def list_evaluations(self, name: str, *, version: int | None = None) -> list[dict[str, Any]]:
        return list(self.pages(f"/v1/schemas/{_seg(name)}/evaluations", {"version": version}))

    # inference
    def generate(self, name: str, input: str, **options: Any) -> dict[str, Any]:
        body = {"input": input, **{k: v for k, v in options.items() if v is not None}}
        return self.request(
            "POST",
            f"/v1/schemas/{_seg(name)}/generate",
            json_body=body,
            timeout=GENERATE_TIMEOUT_S,
        )


def _seg(name: str) -> str:
    """A schema name as one URL path segment."""
    from urllib.parse import quote

    return quote(name, safe="")
