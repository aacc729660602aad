"""The dashboard in real headless Chromium against a real server serving the tiny model.

Sign in, see the schemas and their health, open a schema and its charts, run the playground,
accept a logged request as an example. A screenshot of every page lands in the test's tmp dir.
"""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session, select

from service.app import create_app
from service.models import Adapter, Job, JobEvent, Team
from tests.fixtures.app import REQUIRE_SERVICES, make_team

CHROMIUM = Path("/usr/bin/chromium")
ORDER = {
    "type": "object",
    "properties": {
        "item": {"type": "string", "maxLength": 12},
        "size": {"enum": ["small", "large"]},
        "note": {"type": ["string", "null"], "maxLength": 10},
    },
    "required": ["item", "size", "note"],
    "additionalProperties": False,
}
pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    key: str
    engine: object

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=120
        )


@pytest.fixture
def live(settings, engine, tiny_runtime) -> Iterator[Live]:
    """A uvicorn server on a free local port, with team alice, schema `order` and traffic."""
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Live(url=url, key=make_team(engine, "alice"), engine=engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def seed(live: Live) -> None:
    with live.api() as api:
        v1 = api.post("/v1/schemas", json={"name": "order", "schema": ORDER})
        assert v1.status_code == 201, v1.text
        wider = {**ORDER, "properties": {**ORDER["properties"], "hot": {"type": "boolean"}}}
        assert api.post("/v1/schemas", json={"name": "order", "schema": wider}).status_code == 201
        assert api.post("/v1/schemas", json={"name": "quiet", "schema": ORDER}).status_code == 201
        for text in ("a large tea", "one small coffee", "large latte please"):
            r = api.post("/v1/schemas/order/generate", json={"input": text, "max_tokens": 80})
            assert r.status_code == 200, r.text
        version_id = api.get("/v1/schemas/order/versions/latest").json()["id"]
    # A trained adapter and a running job, as the training pipeline writes them.
    with Session(live.engine) as session:
        team = session.exec(select(Team).where(Team.name == "alice")).one()
        accuracy = {"/item": 0.55, "/size": 0.8, "/note": 0.4}
        session.add(
            Adapter(
                team_id=team.id,
                schema_version_id=version_id,
                path="/nowhere",
                base_fingerprint="tiny",
                manifest={},
                evaluation={
                    "base": {
                        "conformance": 0.7,
                        "exact_match": 0.1,
                        "field_accuracy": {"overall": 0.58, "per_path": accuracy},
                    },
                    "adapter_unconstrained": {
                        "conformance": 0.97,
                        "exact_match": 0.6,
                        "field_accuracy": {
                            "overall": 0.88,
                            "per_path": {p: min(1.0, v + 0.3) for p, v in accuracy.items()},
                        },
                    },
                },
            )
        )
        job = Job(
            team_id=team.id,
            schema_version_id=version_id,
            state="training",
            stage="finetune",
            progress=0.45,
            step=45,
            total_steps=100,
            loss=0.62,
            tokens_per_s=131.0,
            eta_s=80,
            params={},
        )
        session.add(job)
        session.flush()
        for step in range(5, 45, 5):
            session.add(
                JobEvent(
                    job_id=job.id,
                    kind="progress",
                    message=f"step {step}",
                    data={"step": step, "loss": 2.4 / (1 + step / 8)},
                )
            )
        session.commit()


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (FORMWRIGHT_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def chart_marks(page, selector: str) -> int:
    """How many drawn marks (lines, points, bars) the SVG charts under `selector` hold."""
    return page.eval_on_selector_all(
        f"{selector} svg.chart",
        "els => els.reduce((n, el) => n + el.querySelectorAll('polyline, circle, rect.bar')"
        ".length, 0)",
    )


def test_dashboard_end_to_end(live, chromium, tmp_path):
    seed(live)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = chromium.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    foreign: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live.url) else foreign.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # Signing in: the key goes in a form, then lives in an HttpOnly cookie, never the URL.
    page.goto(live.url + "/ui/schemas")
    assert "/ui/login" in page.url
    shot("01-login")
    page.fill("#key", "fw_wrong")
    page.click("button[type=submit]")
    assert page.locator(".alert.error").is_visible()
    page.fill("#key", live.key)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/schemas")
    assert live.key not in page.url
    (cookie,) = [c for c in context.cookies() if c["name"] == "fw_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"

    # The schemas list: latest version, traffic, health colour.
    row = page.locator("#schemas tr", has_text="order")
    assert row.get_attribute("data-health") == "green"
    assert "v2" in row.inner_text()
    assert "3" in row.locator("td").nth(4).inner_text()
    quiet = page.locator("#schemas tr", has_text="quiet")
    assert quiet.get_attribute("data-health") == "grey"
    shot("02-schemas")

    # The schema page: charts drawn from the three requests.
    page.click("text=order")
    page.wait_for_url("**/ui/schemas/order")
    assert page.locator(".kpi .value").nth(0).inner_text() == "3"
    assert chart_marks(page, "[data-chart=conformance]") > 0
    assert chart_marks(page, "[data-chart=latency]") > 0
    shot("03-overview")

    page.click("nav.tabs >> text=Versions")
    assert page.locator("pre.diff .add").count() >= 1  # v1 -> v2 added `hot`
    assert "hot" in page.locator("pre.diff").inner_text()
    shot("04-versions")

    page.click("nav.tabs >> text=Adapters")
    assert chart_marks(page, ".adapter") >= 6  # 3 fields x base and adapter
    shot("05-adapters")

    page.click("nav.tabs >> text=Jobs")
    assert page.locator("progress").first.get_attribute("value") == "0.45"
    assert chart_marks(page, ".job") > 0  # the loss curve
    shot("06-jobs")

    # The playground: a real generation through the API with the cookie.
    page.click("nav.tabs >> text=Playground")
    page.fill("#pg-input", "two small teas")
    page.click("#pg-run")
    page.locator("#pg-valid.ok, #pg-valid.bad").wait_for(timeout=120_000)
    assert page.locator("#pg-valid").inner_text() == "valid"
    assert page.locator("#pg-decoding").inner_text().startswith("constrained:")
    assert page.locator("#pg-latency").inner_text().endswith("ms")
    assert '"size"' in page.locator("#pg-output").inner_text()
    shot("07-playground")

    # Traffic review: accept the newest request (the playground's) as an example.
    page.click("nav.tabs >> text=Traffic")
    first = page.locator("#traffic tr[data-request]").first
    request_id = first.get_attribute("data-request")
    assert "two small teas" in first.inner_text()
    first.locator("button[data-action=review]").click()
    form = page.locator(f"#review-{request_id} form")
    form.locator("button[type=submit]").click()
    form.locator(".result.ok").wait_for()
    assert "Stored as example" in form.locator(".result").inner_text()
    shot("08-traffic")
    with live.api() as api:
        examples = api.get("/v1/schemas/order/examples", params={"source": "traffic"}).json()
    assert [e["input"] for e in examples["data"]] == ["two small teas"]

    page.click("nav.tabs >> text=Examples")
    assert page.locator("#example-count").inner_text() == "1"
    shot("09-examples")

    assert not foreign, f"the dashboard loaded from elsewhere: {foreign}"
    assert not errors, errors
    context.close()
