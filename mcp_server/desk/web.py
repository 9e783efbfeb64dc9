"""Shared helpers of the desk pages: templates, Markdown, session and CSRF tokens, errors."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.anchors.index import slugify
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mcp_server.desk.throttle import LoginThrottle

if TYPE_CHECKING:
    from mcp_server.state import AppState

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "desk_session"
CSRF_COOKIE = "desk_csrf"
APPROVER_COOKIE = "desk_approver"
MAX_FORM_BYTES = 256 * 1024
#: How long a login lasts (the cookie's max-age, enforced on the server too).
SESSION_SECONDS = 12 * 3600
#: Live logins kept at most; past it the oldest is signed out (each needs the token to make).
MAX_SESSIONS = 1_000


@dataclass
class Desk:
    """What every page handler needs: the app state, the templates and the desk's secrets."""

    get_state: Callable[[], AppState]
    token: str | None
    root_path: str
    secure_cookies: bool = False
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    logins: LoginThrottle = field(default_factory=LoginThrottle)
    #: Live logins: the session id's HMAC -> monotonic expiry. Logout removes one, so a copied
    #: cookie stops working at once, not at the next restart.
    sessions: dict[str, float] = field(default_factory=dict)
    templates: Environment = field(init=False)
    markdown: MarkdownIt = field(init=False)

    def __post_init__(self) -> None:
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # CommonMark without raw HTML: a standard's text can never inject markup or script.
        # Headings get ids so a finding's citation can link to the exact section.
        self.markdown = MarkdownIt("commonmark", {"html": False}).use(anchors_plugin, max_level=6)
        self.templates.filters["markdown"] = self.render_markdown
        self.templates.filters["slug"] = slugify

    @property
    def state(self) -> AppState:
        return self.get_state()

    def render_markdown(self, text: str | None) -> Markup:
        return Markup(self.markdown.render(text or ""))

    def _session_key(self, session_id: str) -> str:
        return hmac.new(self.secret, b"session:" + session_id.encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        """A fresh random session id for a login (the cookie value; never the token), kept live on
        the server until logout or :data:`SESSION_SECONDS`; at most :data:`MAX_SESSIONS` at once."""
        now = time.monotonic()
        self.sessions = {k: t for k, t in self.sessions.items() if t > now}
        while len(self.sessions) >= MAX_SESSIONS:
            del self.sessions[min(self.sessions, key=self.sessions.__getitem__)]
        session_id = secrets.token_urlsafe(32)
        self.sessions[self._session_key(session_id)] = now + SESSION_SECONDS
        return session_id

    def end_session(self, request: Request) -> None:
        """Logout: the request's session is revoked on the server (any copy of the cookie too)."""
        self.sessions.pop(self._session_key(request.cookies.get(SESSION_COOKIE, "")), None)

    def logged_in(self, request: Request) -> bool:
        if self.token is None:
            return True
        given = request.cookies.get(SESSION_COOKIE, "")
        # Looked up by its HMAC: a forged or revoked cookie (any characters) is simply not there.
        expires = self.sessions.get(self._session_key(given)) if given else None
        return expires is not None and expires > time.monotonic()

    def page(self, request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        body = self.templates.get_template(template).render(
            root=self.root_path, csrf=csrf, request=request, logout=self.token is not None, **values
        )
        response = HTMLResponse(body, status_code=status_code)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            self.set_cookie(response, CSRF_COOKIE, csrf)
        return response

    def error(self, request: Request, status_code: int, title: str, detail: str) -> HTMLResponse:
        return self.page(request, "error.html", status_code=status_code, title=title, detail=detail)

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.root_path or "/",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )

    def remember_name(self, response: Response, name: str) -> None:
        """Keep who approved or dismissed for the next form; percent-encoded, since a cookie header
        carries only Latin-1 (a name such as '张三' failed the response after the action was done)."""
        self.set_cookie(response, APPROVER_COOKIE, quote(name[:100], safe=""), max_age=365 * 86400)

    def remembered_name(self, request: Request) -> str:
        return unquote(request.cookies.get(APPROVER_COOKIE, ""))

    def url(self, path: str) -> str:
        return f"{self.root_path}{path}"


async def form(request: Request) -> dict[str, str]:
    """The posted form as plain strings, refusing oversized bodies."""
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_FORM_BYTES:
        raise ValueError(f"the form is {length} bytes; the desk accepts at most {MAX_FORM_BYTES}")
    if request._form is None and not hasattr(request, "_body"):
        # Read the body ourselves, counting: a chunked request has no Content-Length, and Starlette's
        # form parser would otherwise hold up to 50 fields of 1 MB each before any login check.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise ValueError(f"the form is over {MAX_FORM_BYTES} bytes; the desk accepts at most {MAX_FORM_BYTES}")
            chunks.append(chunk)
        request._body = b"".join(chunks)  # what request.form() parses
    data = await request.form(max_files=0, max_fields=50)
    return {k: v for k, v in data.items() if isinstance(v, str)}


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Double-submit check: the form's token must equal the SameSite=Strict cookie's."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and submitted is not None and hmac.compare_digest(cookie.encode(), submitted.encode())


Handler = Callable[[Desk, Request], Awaitable[Response]]
