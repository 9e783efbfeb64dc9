"""The desk's Starlette app: login (off loopback), CSRF on every POST, Host checks, the page routes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_server.desk import ops, proposals, reviews, standards
from mcp_server.desk.state import DeskUnavailable
from mcp_server.desk.throttle import LoginThrottle
from mcp_server.desk.web import HERE, SESSION_COOKIE, SESSION_SECONDS, Desk, Handler, csrf_ok, form
from mcp_server.http import is_loopback

if TYPE_CHECKING:
    from mcp_server.state import AppState

log = logging.getLogger(__name__)

OPEN_PATHS = ("/login", "/static/")
#: Sent with every desk response: no framing (clickjacking), scripts and styles only from the desk
#: itself (pygal's inline chart styles allowed; its inline script is not needed), no MIME sniffing,
#: no referrer leaving the desk (same-origin: with no-referrer, browsers send "Origin: null").
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response of the desk."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_desk(
    get_state: Callable[[], AppState],
    *,
    host: str = "127.0.0.1",
    token: str | None = None,
    root_path: str = "",
    logins: LoginThrottle | None = None,
) -> ASGIApp:
    """The desk over ``get_state()``'s services. Off loopback a token is required (login form);
    ``root_path`` is where it is mounted (``/desk`` under ``serve --http``); failed logins are
    throttled by ``logins`` (per client address and in total)."""
    if token is None and not is_loopback(host):
        raise ValueError(f"the desk on {host} needs PERSONAS_HTTP_TOKEN (a login token), or bind to 127.0.0.1")
    desk = Desk(
        get_state=get_state, token=token, root_path=root_path, secure_cookies=False, logins=logins or LoginThrottle()
    )
    loopback_only = is_loopback(host)

    def wrap(handler: Handler) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            refusal = await _guard(desk, request, loopback_only)
            if refusal is not None:
                return refusal
            try:
                return await handler(desk, request)
            except DeskUnavailable as exc:
                return desk.error(request, 503, "Not ready", str(exc))
            except (LookupError, FileNotFoundError) as exc:
                return desk.error(request, 404, "Not found", str(exc).strip("'\""))
            except ValueError as exc:
                return desk.error(request, 400, "Cannot do that", str(exc))

        return endpoint

    routes: list[BaseRoute] = [
        Route("/", wrap(_home)),
        Route("/login", wrap(_login), methods=["GET", "POST"]),
        Route("/logout", wrap(_logout), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    for module in (proposals, reviews, ops, standards):
        routes.extend(Route(path, wrap(handler), methods=methods) for path, handler, methods in module.ROUTES)
    return SecurityHeaders(Starlette(routes=routes))


async def _guard(desk: Desk, request: Request, loopback_only: bool) -> Response | None:
    """Host check (DNS rebinding), login, CSRF. None when the request may proceed."""
    hostname = (request.url.hostname or "").strip("[]")
    if loopback_only and not is_loopback(hostname):
        return desk.error(request, 421, "Wrong host", f"this desk answers only on loopback, not on {hostname!r}")
    path = request.url.path.removeprefix(desk.root_path) or "/"
    if not desk.logged_in(request) and not path.startswith(OPEN_PATHS):
        return RedirectResponse(desk.url("/login"), status_code=303)
    if request.method == "POST":
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower():
            # Another site (or another port on localhost, which cookies do not tell apart) posting here.
            return desk.error(request, 403, "Wrong origin", f"this form was sent from {origin[:100]!r}, not the desk")
        try:
            submitted = (await form(request)).get("csrf")
        except ValueError as exc:
            return desk.error(request, 413, "Too large", str(exc))
        if not csrf_ok(request, submitted):
            return desk.error(
                request, 403, "Form expired", "The form's security token did not match: reload the page and retry."
            )
    return None


async def _home(desk: Desk, request: Request) -> Response:
    return RedirectResponse(desk.url("/proposals"), status_code=303)


async def _login(desk: Desk, request: Request) -> Response:
    if desk.token is None:
        return RedirectResponse(desk.url("/proposals"), status_code=303)
    if request.method == "GET":
        return desk.page(request, "login.html", title="Sign in")
    import hmac

    client = request.client.host if request.client else "?"
    wait = desk.logins.retry_after(client)
    if wait is not None:
        log.warning("desk: login from %s refused, too many failed logins (retry in %d s)", client, wait)
        refused = desk.error(
            request,
            429,
            "Too many failed sign-ins",
            f"Too many wrong tokens were tried: sign-in is paused for {wait} s. Try again then with "
            "PERSONAS_HTTP_TOKEN as the server has it.",
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    given = (await form(request)).get("token", "")
    if not hmac.compare_digest(given.encode(), desk.token.encode()):
        desk.logins.failed(client)
        log.warning("desk: failed login from %s", client)
        return desk.page(request, "login.html", status_code=401, title="Sign in", failed=True)
    desk.logins.succeeded(client)
    response = RedirectResponse(desk.url("/proposals"), status_code=303)
    desk.set_cookie(response, SESSION_COOKIE, desk.new_session(), max_age=SESSION_SECONDS)
    return response


async def _logout(desk: Desk, request: Request) -> Response:
    desk.end_session(request)  # revoked on the server: a copied cookie is refused from now on
    response = RedirectResponse(desk.url("/login"), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=desk.root_path or "/")
    return response
