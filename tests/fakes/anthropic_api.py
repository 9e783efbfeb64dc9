"""A scripted fake of Anthropic's Messages API, served on loopback for the real ``anthropic`` client.

Each POST /v1/messages pops the next scripted reply (or uses the default one). A reply can be a
normal message, a tool_use turn, an HTTP error (429, 529, 500, 400...) or slow. Requests are
recorded so tests can assert on what the client sent. Runs uvicorn in its own thread so it
serves the test process and subprocesses alike.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_ids = itertools.count(1)


@dataclass
class Reply:
    """One scripted answer of the fake API."""

    status: int = 200
    body: dict[str, Any] | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


def message(
    content: list[dict[str, Any]],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 120,
    output_tokens: int = 80,
) -> Reply:
    return Reply(
        body={
            "id": f"msg_fake_{next(_ids)}",
            "type": "message",
            "role": "assistant",
            "model": "claude-fake",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    )


def text(answer: str, **kwargs: Any) -> Reply:
    return message([{"type": "text", "text": answer}], **kwargs)


def tool_use(name: str, tool_input: dict[str, Any], *, preface: str | None = None, **kwargs: Any) -> Reply:
    blocks: list[dict[str, Any]] = []
    if preface:
        blocks.append({"type": "text", "text": preface})
    blocks.append({"type": "tool_use", "id": f"toolu_{next(_ids)}", "name": name, "input": tool_input})
    return message(blocks, stop_reason="tool_use", **kwargs)


def error(status: int, kind: str, msg: str, *, retry_after: float | None = None) -> Reply:
    headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
    return Reply(status=status, body={"type": "error", "error": {"type": kind, "message": msg}}, headers=headers)


def overloaded() -> Reply:
    return error(529, "overloaded_error", "Overloaded", retry_after=0)


def rate_limited() -> Reply:
    return error(429, "rate_limit_error", "Rate limited", retry_after=0)


class FakeAnthropic:
    """Start with ``with FakeAnthropic() as api:``; point the client at ``api.base_url``."""

    def __init__(self, default: Reply | Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.script: deque[Reply | Callable[[dict[str, Any]], Reply]] = deque()
        self.default = default or (lambda _req: text("Security review: no issues found in the given context."))
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self._closing = False

    def add(self, *replies: Reply | Callable[[dict[str, Any]], Reply]) -> None:
        with self._lock:
            self.script.extend(replies)

    async def _messages(self, request: Request) -> Response:
        payload = await request.json()
        with self._lock:
            self.requests.append(payload)
            item = self.script.popleft() if self.script else self.default
        reply = item(payload) if callable(item) else item
        if reply.delay:
            # Sleep in slices so a slow reply ends early when the fake shuts down (no 10 s teardown).
            deadline = time.monotonic() + reply.delay
            while not self._closing and time.monotonic() < deadline:
                await asyncio.sleep(min(0.05, deadline - time.monotonic()))
        return JSONResponse(reply.body or {}, status_code=reply.status, headers=reply.headers)

    def __enter__(self) -> FakeAnthropic:
        app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-anthropic", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60  # a hang bound, generous for a loaded machine
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake Anthropic server did not start")
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._closing = True
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def dump(self) -> str:
        return json.dumps(self.requests, indent=2)
