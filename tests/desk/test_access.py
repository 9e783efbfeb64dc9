"""Who may use the desk: loopback Host only, a login (token) off loopback, CSRF on every POST,
and ``serve --http`` mounting it at /desk beside /mcp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcp_server.desk.app import build_desk
from mcp_server.desk.throttle import LoginThrottle
from tests.conftest import wait_for
from tests.desk.conftest import Site
from tests.test_http import serve_http

TOKEN = "desk-test-token-0123456789abcdef0123456789abcdef"


def _client(site: Site, *, host: str, token: str | None, base: str = "http://testserver") -> httpx2.AsyncClient:
    app = build_desk(lambda: site.state, host=host, token=token)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base)


async def _csrf(client: httpx2.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return client.cookies["desk_csrf"]


async def test_off_loopback_needs_the_token_and_sets_a_strict_httponly_session_cookie(site: Site) -> None:
    async with _client(site, host="0.0.0.0", token=TOKEN, base="http://desk.example") as client:
        first = await client.get("/proposals")
        assert first.status_code == 303 and first.headers["location"] == "/login"
        csrf = await _csrf(client, "/login")
        wrong = await client.post("/login", data={"token": "nope", "csrf": csrf})
        assert wrong.status_code == 401 and "desk_session" not in client.cookies
        right = await client.post("/login", data={"token": TOKEN, "csrf": csrf})
        assert right.status_code == 303
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and TOKEN.lower() not in cookie
        assert (await client.get("/proposals")).status_code == 200


def test_off_loopback_without_a_token_is_refused(site: Site) -> None:
    with pytest.raises(ValueError, match="PERSONAS_HTTP_TOKEN"):
        build_desk(lambda: site.state, host="0.0.0.0", token=None)


async def test_every_post_needs_the_csrf_token(site: Site) -> None:
    proposal_id = await site.draft()
    async with _client(site, host="127.0.0.1", token=None, base="http://127.0.0.1:8766") as client:
        csrf = await _csrf(client, f"/proposals/{proposal_id}")
        missing = await client.post(f"/proposals/{proposal_id}/approve", data={"approved_by": "mallory"})
        forged = await client.post(
            f"/proposals/{proposal_id}/approve", data={"approved_by": "mallory", "csrf": "guess"}
        )
        assert missing.status_code == 403 and forged.status_code == 403
        assert (await site.state.proposals.show(proposal_id)).status == "draft"  # nothing changed
        ok = await client.post(f"/proposals/{proposal_id}/approve", data={"approved_by": "alice", "csrf": csrf})
        assert ok.status_code == 200 and (await site.state.proposals.show(proposal_id)).status == "approved"


async def test_loopback_desk_refuses_a_rebound_host_name(site: Site) -> None:
    async with _client(site, host="127.0.0.1", token=None, base="http://attacker.example:8766") as client:
        response = await client.get("/proposals")
    assert response.status_code == 421


async def test_bad_input_gets_a_clear_page_not_a_traceback(site: Site) -> None:
    async with _client(site, host="127.0.0.1", token=None, base="http://127.0.0.1") as client:
        unknown = await client.get("/proposals/does-not-exist")
        bad_filter = await client.get("/reviews?status=exploded")
        outside = await client.get("/standards/view?file=../../etc/passwd")
        chart = await client.get("/ops?days=9999")
    assert unknown.status_code == 404 and "does-not-exist" in unknown.text
    assert bad_filter.status_code == 400 and "status must be one of" in bad_filter.text
    assert outside.status_code in (400, 404) and "root:" not in outside.text
    assert chart.status_code == 400 and "days must be one of 7, 30" in chart.text


@pytest.fixture
def http_server(project: Path, redis_url: str) -> Iterator[str]:
    with serve_http(project, REDIS_URL=redis_url) as base:
        yield base


async def test_serve_http_mounts_the_desk_beside_mcp(http_server: str) -> None:
    async with httpx2.AsyncClient(base_url=http_server, timeout=10) as client:

        async def desk_up() -> Any:
            try:
                response = await client.get("/desk/proposals")
            except httpx2.TransportError:
                return None
            return response if response.status_code == 200 else None

        page = await wait_for(desk_up, timeout=60, what="the desk under serve --http")
        assert "No open proposals." in page.text and 'href="/desk/static/desk.css"' in page.text
        assert (await client.get("/desk/static/desk.css")).status_code == 200
        mcp = await client.post("/mcp", json={}, headers={"accept": "application/json, text/event-stream"})
        assert mcp.status_code != 404  # /mcp is still the MCP endpoint


async def test_a_post_from_another_origin_is_refused_even_with_a_planted_csrf_cookie(site: Site) -> None:
    """Cookies do not tell localhost ports apart: a page on http://localhost:8080 can plant its own
    desk_csrf cookie and post the same value. The Origin header gives it away."""
    proposal_id = await site.draft()
    async with _client(site, host="127.0.0.1", token=None, base="http://127.0.0.1:8766") as client:
        client.cookies.set("desk_csrf", "planted-by-another-port")
        forged = await client.post(
            f"/proposals/{proposal_id}/approve",
            data={"approved_by": "mallory", "csrf": "planted-by-another-port"},
            headers={"Origin": "http://localhost:8080"},
        )
        assert forged.status_code == 403 and "origin" in forged.text.lower()
        assert (await site.state.proposals.show(proposal_id)).status == "draft"
        same_origin = await client.post(
            f"/proposals/{proposal_id}/reject",
            data={"feedback": "not needed", "csrf": "planted-by-another-port"},
            headers={"Origin": "http://127.0.0.1:8766"},
        )
        assert same_origin.status_code == 200 and (await site.state.proposals.show(proposal_id)).status == "rejected"


async def test_every_response_forbids_framing_sniffing_and_foreign_scripts(site: Site) -> None:
    async with _client(site, host="127.0.0.1", token=None, base="http://127.0.0.1:8766") as client:
        for path in ("/proposals", "/ops", "/static/desk.js", "/proposals/nope"):
            headers = (await client.get(path)).headers
            assert headers["x-frame-options"] == "DENY", path
            assert headers["x-content-type-options"] == "nosniff", path
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path


async def _login(client: httpx2.AsyncClient) -> None:
    csrf = await _csrf(client, "/login")
    assert (await client.post("/login", data={"token": TOKEN, "csrf": csrf})).status_code == 303
    assert (await client.get("/proposals")).status_code == 200


async def test_logout_revokes_the_session_so_a_copied_cookie_is_refused(site: Site) -> None:
    app = build_desk(lambda: site.state, host="0.0.0.0", token=TOKEN)

    def client() -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://desk.example")

    async with client() as browser, client() as thief, client() as other:
        await _login(browser)
        await _login(other)  # a second login is its own session
        stolen = browser.cookies["desk_session"]
        assert stolen != other.cookies["desk_session"] and TOKEN not in stolen
        thief.cookies.set("desk_session", stolen)
        assert (await thief.get("/proposals")).status_code == 200

        csrf = browser.cookies["desk_csrf"]
        out = await browser.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"

        refused = await thief.get("/proposals")
        assert refused.status_code == 303 and refused.headers["location"] == "/login"
        browser.cookies.set("desk_session", stolen)  # the browser putting the old cookie back
        assert (await browser.get("/proposals")).status_code == 303
        assert (await other.get("/proposals")).status_code == 200  # only that session ended
        await _login(browser)  # and the same browser can sign in again


def test_live_sessions_are_bounded_and_forged_ones_unknown(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.requests import Request

    from mcp_server.desk import web

    monkeypatch.setattr(web, "MAX_SESSIONS", 3)
    desk = web.Desk(get_state=lambda: site.state, token=TOKEN, root_path="")

    def request(session: str) -> Request:
        return Request({"type": "http", "headers": [(b"cookie", f"desk_session={session}".encode())]})

    first, *rest = [desk.new_session() for _ in range(4)]
    assert len(desk.sessions) == 3
    assert not desk.logged_in(request(first))  # the oldest was signed out
    assert all(desk.logged_in(request(s)) for s in rest)
    assert not desk.logged_in(request("forged-ünicode"))


class _Clock:
    """A hand-moved clock for the login throttle: time passes when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _from(app: Any, address: str) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app, client=(address, 40000)), base_url="http://desk.example"
    )


async def _sign_in(client: httpx2.AsyncClient, token: str) -> httpx2.Response:
    page = await client.get("/login")
    if page.status_code != 200:
        return page
    return await client.post("/login", data={"token": token, "csrf": client.cookies["desk_csrf"]})


async def test_repeated_wrong_tokens_pause_that_clients_sign_in_with_429_and_retry_after(site: Site) -> None:
    clock = _Clock()
    app = build_desk(
        lambda: site.state, host="0.0.0.0", token=TOKEN, logins=LoginThrottle(per_client=3, window=60, clock=clock)
    )
    async with _from(app, "203.0.113.7") as mallory, _from(app, "198.51.100.2") as alice:
        assert [(await _sign_in(mallory, f"guess-{i}")).status_code for i in range(3)] == [401, 401, 401]
        paused = await _sign_in(mallory, TOKEN)  # even the right token is not checked while paused
        assert paused.status_code == 429 and paused.headers["retry-after"] == "60"
        assert "Too many wrong tokens" in paused.text and "paused for 60 s" in paused.text
        assert "desk_session" not in mallory.cookies
        assert (await _sign_in(alice, TOKEN)).status_code == 303  # another address is not held back

        clock.now += 30
        assert (await _sign_in(mallory, TOKEN)).headers["retry-after"] == "30"
        clock.now += 30  # the oldest failure leaves the window
        assert (await _sign_in(mallory, TOKEN)).status_code == 303
        assert (await mallory.get("/proposals")).status_code == 200


async def test_a_successful_sign_in_forgets_that_clients_failures(site: Site) -> None:
    app = build_desk(
        lambda: site.state, host="0.0.0.0", token=TOKEN, logins=LoginThrottle(per_client=3, clock=_Clock())
    )
    async with _from(app, "198.51.100.2") as alice:
        assert [(await _sign_in(alice, "typo")).status_code for _ in range(2)] == [401, 401]
        assert (await _sign_in(alice, TOKEN)).status_code == 303
        assert [(await _sign_in(alice, "typo")).status_code for _ in range(2)] == [401, 401]


async def test_many_addresses_guessing_together_pause_every_sign_in(site: Site) -> None:
    clock = _Clock()
    app = build_desk(
        lambda: site.state,
        host="0.0.0.0",
        token=TOKEN,
        logins=LoginThrottle(per_client=3, overall=6, window=60, clock=clock),
    )
    for n in range(6):  # six addresses, one guess each: no single address reaches its limit
        async with _from(app, f"203.0.113.{n + 1}") as guesser:
            assert (await _sign_in(guesser, f"guess-{n}")).status_code == 401
    async with _from(app, "198.51.100.2") as alice:
        refused = await _sign_in(alice, TOKEN)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        clock.now += 60
        assert (await _sign_in(alice, TOKEN)).status_code == 303


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = LoginThrottle(per_client=2, overall=10**6, max_clients=100, clock=_Clock())
    for n in range(10_000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._clients) == 100
    assert len(throttle._all) == 10_000  # every failure still counts towards the overall limit
    throttle.failed("10.0.39.15")  # the most recent address keeps its history
    assert throttle.retry_after("10.0.39.15") == 60
