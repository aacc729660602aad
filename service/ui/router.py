"""The dashboard: server-rendered pages; the pages' buttons call the JSON API with the cookie."""

from collections.abc import Callable, Coroutine
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from service.deps import COOKIE, BaseDep, SecretDep, SessionDep, SideDep, TeamDep
from service.errors import FormwrightError, NotFound, Unauthorized
from service.teams import service as teams
from service.ui import charts
from service.ui import service as pages

HERE = FilePath(__file__).parent
STATIC = HERE / "static"
# Everything comes from this origin: no CDN, no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["percent"] = lambda v: "–" if v is None else charts.percent(v)
templates.env.globals["millis"] = lambda v: "–" if v is None else charts.millis(v)


class PageRoute(APIRoute):
    """Errors become pages: no session goes to the sign-in page, others to an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except Unauthorized:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
            except FormwrightError as exc:
                response = templates.TemplateResponse(
                    request, "error.html", {"error": exc}, status_code=exc.status_code
                )
            response.headers.setdefault("Content-Security-Policy", CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "same-origin")
            return response

        return route


router = APIRouter(prefix="/ui", tags=["dashboard"], include_in_schema=False, route_class=PageRoute)

Name = Annotated[str, Path(max_length=128)]


def page(request: Request, template: str, context: dict[str, Any], team: Any = None) -> Response:
    return templates.TemplateResponse(request, template, {**context, "team": team})


def safe_next(target: str | None) -> str:
    """Only a local dashboard path: the sign-in form must not redirect anywhere else."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/schemas"


@router.get("")
@router.get("/")
def home() -> Response:
    return RedirectResponse("/ui/schemas", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None):
    return page(request, "login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    secret: SecretDep,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
):
    """Check the key, open a server-side session, keep its token in an HttpOnly cookie."""
    same_origin(request, "Sign in from the dashboard itself.")
    try:
        team, api_key, token = teams.open_session(session, key=key, secret=secret)
    except Unauthorized as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": exc.detail, "next": safe_next(next)},
            status_code=401,
        )
    request.state.team, request.state.actor = team, api_key.prefix
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(teams.SESSION_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        # The scheme is https behind a trusted proxy too (FORMWRIGHT_FORWARDED_ALLOW_IPS).
        secure=request.url.scheme == "https",
    )
    return response


def same_origin(request: Request, refusal: str) -> None:
    """The dashboard's own forms only: a form post from another site is a 403."""
    origin = request.headers.get("origin")
    # "null" is what sandboxed frames and some cross-site redirects send: not the dashboard.
    if origin is not None and urlsplit(origin).netloc != request.url.netloc:
        raise FormwrightError(refusal, status_code=403, code="csrf")


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """End the session on the server, not only in this browser (audited as `logout`)."""
    same_origin(request, "Sign out from the dashboard itself.")
    token = request.cookies.get(COOKIE)
    closed = teams.close_session(session, token=token) if token else None
    if closed is not None:
        request.state.team, request.state.actor = closed[0], closed[1].prefix
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/schemas", response_class=HTMLResponse)
def schemas(
    request: Request,
    session: SessionDep,
    team: TeamDep,
    sort: Annotated[str, Query(max_length=32)] = "name",
    desc: bool = False,
):
    """Every schema with its health over the last day."""
    context = pages.schemas_page(session, team=team, sort=sort, desc=desc)
    return page(request, "schemas.html", context, team)


@router.get("/schemas/{name}", response_class=HTMLResponse)
def schema_overview(
    request: Request,
    name: Name,
    session: SessionDep,
    team: TeamDep,
    range: Annotated[str, Query(max_length=8)] = "24h",
):
    context = pages.overview_page(session, team=team, name=name, range_key=range)
    return page(request, "overview.html", {**context, "tab": "overview"}, team)


@router.get("/schemas/{name}/versions", response_class=HTMLResponse)
def schema_versions(
    request: Request,
    name: Name,
    session: SessionDep,
    team: TeamDep,
    a: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    b: Annotated[int | None, Query(ge=1, le=10**9)] = None,
):
    context = pages.versions_page(session, team=team, name=name, a=a, b=b)
    return page(request, "versions.html", {**context, "tab": "versions"}, team)


@router.get("/schemas/{name}/examples", response_class=HTMLResponse)
def schema_examples(
    request: Request,
    name: Name,
    session: SessionDep,
    team: TeamDep,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    context = pages.examples_page(session, team=team, name=name, offset=offset)
    return page(request, "examples.html", {**context, "tab": "examples"}, team)


@router.get("/schemas/{name}/jobs", response_class=HTMLResponse)
def schema_jobs(request: Request, name: Name, session: SessionDep, team: TeamDep):
    context = pages.jobs_page(session, team=team, name=name)
    return page(request, "jobs.html", {**context, "tab": "jobs"}, team)


@router.get("/schemas/{name}/jobs/panel", response_class=HTMLResponse)
def schema_jobs_panel(request: Request, name: Name, session: SessionDep, team: TeamDep):
    """The jobs list alone: the page polls it while a job runs."""
    return page(request, "_jobs_panel.html", pages.jobs_panel(session, team=team, name=name), team)


@router.get("/schemas/{name}/adapters", response_class=HTMLResponse)
def schema_adapters(
    request: Request, name: Name, session: SessionDep, team: TeamDep, base: BaseDep, side: SideDep
):
    context = pages.adapters_page(session, team=team, name=name, base_fingerprint=base, side=side)
    return page(request, "adapters.html", {**context, "tab": "adapters"}, team)


@router.get("/schemas/{name}/playground", response_class=HTMLResponse)
def schema_playground(request: Request, name: Name, session: SessionDep, team: TeamDep):
    context = pages.playground_page(session, team=team, name=name)
    return page(request, "playground.html", {**context, "tab": "playground"}, team)


@router.get("/schemas/{name}/traffic", response_class=HTMLResponse)
def schema_traffic(
    request: Request,
    name: Name,
    session: SessionDep,
    team: TeamDep,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    only: Annotated[str | None, Query(max_length=16)] = None,
):
    context = pages.traffic_page(session, team=team, name=name, offset=offset, only=only)
    return page(request, "traffic.html", {**context, "tab": "traffic"}, team)


@router.get("/static/{file}")
def static(file: Annotated[str, Path(pattern=r"^[a-z0-9_-]+\.(css|js|svg)$")]) -> Response:
    """The dashboard's own CSS and JS (no CDN)."""
    path = STATIC / file
    if not path.is_file():
        raise NotFound(f"No static file {file}.")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})
