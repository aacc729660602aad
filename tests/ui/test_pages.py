"""Dashboard pages without a browser: the session cookie, redirects, errors as pages."""

from tests.fixtures.app import TeamClient, sign_in

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_pages_need_a_session_and_go_back_after_sign_in(client, alice: TeamClient):
    r = client.get("/ui/schemas/weather", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/login?next=/ui/schemas/weather"
    bad = client.post("/ui/login", data={"key": "fw_nope"}, follow_redirects=False)
    assert bad.status_code == 401
    assert "not valid" in bad.text
    r = client.post(
        "/ui/login", data={"key": alice.key, "next": "/ui/schemas"}, follow_redirects=False
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("fw_session=")
    assert alice.key not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie


def test_sign_in_never_redirects_off_the_dashboard(client, alice: TeamClient):
    r = client.post(
        "/ui/login",
        data={"key": alice.key, "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/ui/schemas"


def test_unknown_schema_is_a_404_page_and_pages_forbid_foreign_content(client, alice):
    sign_in(client, alice.key)
    try:
        r = client.get("/ui/schemas/nope")
        assert r.status_code == 404
        assert "text/html" in r.headers["content-type"]
        assert "Schema &#39;nope&#39; not found" in r.text or "Schema 'nope' not found" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
    finally:
        client.cookies.clear()


def test_another_teams_schema_is_not_shown(client, alice, bob):
    assert alice.post("/v1/schemas", json={"name": "secret", "schema": SCHEMA}).status_code == 201
    sign_in(client, bob.key)
    try:
        assert "secret" not in client.get("/ui/schemas").text
        assert client.get("/ui/schemas/secret").status_code == 404
        assert client.get("/ui/schemas/secret/traffic").status_code == 404
    finally:
        client.cookies.clear()


def test_static_files_are_served_and_paths_are_not(client):
    assert client.get("/ui/static/app.css").status_code == 200
    assert (
        client.get("/ui/static/app.js")
        .headers["content-type"]
        .startswith(("application/javascript", "text/javascript"))
    )
    assert client.get("/ui/static/..%2Fservice.py").status_code in (404, 422)


def test_versions_page_diffs_the_schemas_as_registered(client, alice: TeamClient):
    v1 = {"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {"type": "string"}}}
    v2 = {"description": "a new first line in the diff", **v1}
    for schema in (v1, v2):
        r = alice.post("/v1/schemas", json={"name": "order", "schema": schema})
        assert r.status_code == 201
    sign_in(client, alice.key)
    try:
        page = client.get("/ui/schemas/order/versions").text
    finally:
        client.cookies.clear()
    diff = page.split("<pre", 1)[1].split("</pre>", 1)[0]
    # The author's order: "zeta" right after the new line's context, not sorted after "alpha".
    assert "zeta" in diff
    assert "alpha" not in diff or diff.index("zeta") < diff.index("alpha")
