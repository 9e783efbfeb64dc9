"""MCP roots: the project root follows the client's workspace (through the SDK client's roots callback), in
process and over real HTTP; a shared HTTP server (off loopback, or for remote clients) ignores them."""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ListRootsResult, Root

from mcp_server.server import build_server
from mcp_server.settings import Settings
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from tests.review.test_review_runs import tool_results
from tests.test_http import TOKEN, serve_http


class Roots:
    def __init__(self, *folders: Path) -> None:
        self.folders = list(folders)
        self.asked = 0

    async def __call__(self, context: ClientRequestContext) -> ListRootsResult:
        self.asked += 1
        roots = [Root.model_validate({"uri": f.resolve().as_uri(), "name": f.name}) for f in self.folders]
        return ListRootsResult(roots=roots)


def _settings(redis_url: str, api: FakeAnthropic, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "embedder": "hashing",
        "tools": "all",
        "queue_poll_interval": 0.02,
        "llm_max_retries": 0,
        "anthropic_api_key": "sk-test",
        "anthropic_base_url": api.base_url,
        **overrides,
    }
    return Settings(**values)


def _workspace(tmp_path: Path, name: str, marker: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "only_here.py").write_text(f"SECRET_MARKER = {marker!r}\n")
    return folder


async def _workspace_info(client: Client, expected_root: Path) -> dict[str, Any]:
    async def moved() -> dict[str, Any] | None:
        listed = (await client.call_tool("list_personas", {})).structured_content or {}
        info: dict[str, Any] = listed["workspace"]
        return info if info["project_root"] == str(expected_root.resolve()) else None

    return await wait_for(moved, what=f"the project root to become {expected_root}")


async def _read_in_run(client: Client, api: FakeAnthropic) -> str:
    api.add(fake.tool_use("read_file", {"path": "only_here.py"}), fake.text("Reviewed."))
    started = await client.call_tool("invoke_security", {"task": "review only_here.py"})
    job_id = (started.structured_content or {})["job_id"]
    done = await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 30})
    assert (done.structured_content or {})["status"] == "complete", done.structured_content
    return " ".join(tool_results(api.requests[-1]))


@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")  # send_roots_list_changed (2025 era)
async def test_the_project_root_follows_the_clients_first_root(
    tmp_path: Path, redis_url: str, fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_in = tmp_path / "server-cwd"
    started_in.mkdir()
    monkeypatch.chdir(started_in)  # no PERSONAS_PROJECT_ROOT: the server starts in some other folder
    for name in list(os.environ):
        if name.startswith("PERSONAS_"):
            monkeypatch.delenv(name)
    first = _workspace(tmp_path, "window", "from-the-window")
    second = _workspace(tmp_path, "library", "from-the-library")
    roots = Roots(first, second)
    settings = _settings(redis_url, fake_api)
    assert not settings.project_root_given
    async with Client(build_server(settings, watch=False), mode="legacy", list_roots_callback=roots) as client:
        info = await _workspace_info(client, first)
        read = await _read_in_run(client, fake_api)
        roots.folders = [second]
        await client.send_roots_list_changed()
        moved = await _workspace_info(client, second)
    assert info["project_root_from"] == "client root"
    assert info["client_roots"] == [first.resolve().as_uri(), second.resolve().as_uri()]
    assert "from-the-window" in read
    assert moved["client_roots"] == [second.resolve().as_uri()]
    assert roots.asked == 2


async def test_an_explicit_project_root_wins_over_the_clients_roots(
    tmp_path: Path, redis_url: str, fake_api: FakeAnthropic
) -> None:
    configured = _workspace(tmp_path, "configured", "from-the-configuration")
    window = _workspace(tmp_path, "window", "from-the-window")
    roots = Roots(window)
    settings = _settings(redis_url, fake_api, project_root=configured)
    async with Client(build_server(settings, watch=False), mode="legacy", list_roots_callback=roots) as client:

        async def asked() -> bool:
            listed = (await client.call_tool("list_personas", {})).structured_content or {}
            return bool(listed["workspace"]["client_roots"])

        await wait_for(asked, what="the client's roots to be read")
        listed = (await client.call_tool("list_personas", {})).structured_content or {}
        read = await _read_in_run(client, fake_api)
    assert listed["workspace"]["project_root"] == str(configured.resolve())
    assert listed["workspace"]["project_root_from"] == "PERSONAS_PROJECT_ROOT"
    assert listed["workspace"]["client_roots"] == [window.resolve().as_uri()]
    assert "from-the-configuration" in read


def test_the_file_system_root_and_system_folders_are_never_followed(tmp_path: Path) -> None:
    """With '/' as the project, read_file('proc/self/environ') would give the model the server's keys."""
    from mcp_server.roots import Workspace

    project = _workspace(tmp_path, "project", "ok")
    workspace = Workspace(tmp_path, explicit=False, targets=[])
    workspace.follow(["file:///", "file:///proc/self", "file:///etc", project.resolve().as_uri()])
    assert workspace.root == project.resolve()
    workspace.follow(["file:///"])
    assert workspace.root == tmp_path  # back to where the server started, not '/'


async def _http_client(stack: AsyncExitStack, url: str, roots: Roots, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))

    async def up() -> bool:
        try:
            return (await http.get(url)).status_code != 0
        except httpx2.TransportError:
            return False

    await wait_for(up, timeout=30, what=f"{url} to listen")
    return await stack.enter_async_context(
        Client(streamable_http_client(url, http_client=http), mode="legacy", list_roots_callback=roots)
    )


@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
async def test_over_loopback_http_the_project_root_follows_the_client(
    tmp_path: Path, redis_url: str, fake_api: FakeAnthropic, project: Path
) -> None:
    started_in = tmp_path / "server-cwd"
    started_in.mkdir()
    window = _workspace(tmp_path, "window", "from-the-window")
    roots = Roots(window)
    with serve_http(
        project, cwd=started_in, REDIS_URL=redis_url, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=fake_api.base_url
    ) as base:
        async with AsyncExitStack() as stack:
            client = await _http_client(stack, f"{base}/mcp", roots)
            info = await _workspace_info(client, window)
            read = await _read_in_run(client, fake_api)
    assert info["project_root_from"] == "client root"
    assert info["client_roots_ignored"] is None
    assert "from-the-window" in read


@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
@pytest.mark.parametrize(
    ("host", "args", "because"),
    [("127.0.0.2", (), "bound to 127.0.0.2, off loopback"), ("127.0.0.1", ("--remote-clients",), "remote clients")],
)
async def test_a_shared_http_server_ignores_client_roots(
    tmp_path: Path, redis_url: str, project: Path, host: str, args: tuple[str, ...], because: str
) -> None:
    """Off loopback (or for remote clients) one client's roots would move every client's project root."""
    started_in = tmp_path / "server-cwd"
    started_in.mkdir()
    window = _workspace(tmp_path, "window", "from-the-window")
    roots = Roots(window)
    log = tmp_path / "serve.log"
    with serve_http(
        project, *args, host=host, cwd=started_in, log=log, REDIS_URL=redis_url, PERSONAS_HTTP_TOKEN=TOKEN
    ) as base:
        async with AsyncExitStack() as stack:
            client = await _http_client(stack, f"{base}/mcp", roots, TOKEN)

            async def said_so() -> bool:
                return "client roots ignored" in log.read_text()

            await wait_for(said_so, what="the server to log that it ignores client roots")
            await client.send_roots_list_changed()
            second = await _http_client(stack, f"{base}/mcp", roots, TOKEN)  # a second session: logged once
            listed = (await second.call_tool("list_personas", {})).structured_content or {}
    workspace = listed["workspace"]
    assert workspace["project_root"] == str(started_in.resolve())
    assert workspace["project_root_from"] == "server working directory"
    assert workspace["client_roots"] == []
    assert because in workspace["client_roots_ignored"]
    assert roots.asked == 0
    assert log.read_text().count("client roots ignored") == 1


async def test_a_roots_request_the_client_never_got_is_sent_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over streamable HTTP the server's roots/list goes out on the client's GET stream, which the
    client opens only after 'initialized': sent before it is up, the request is dropped and never
    answered. The project root must still follow the client (it used to stay put for the session)."""
    import asyncio
    from types import SimpleNamespace

    from mcp_server import roots as roots_module
    from mcp_server.roots import Workspace

    monkeypatch.setattr(roots_module, "ROOTS_ATTEMPT_TIMEOUTS", (0.05, 0.05, 5.0))
    window = _workspace(tmp_path, "window", "w")
    sent: list[int] = []

    async def send_request(request: Any, result_type: Any) -> ListRootsResult:
        sent.append(1)
        if len(sent) == 1:
            await asyncio.Event().wait()  # dropped: no answer ever comes
        return ListRootsResult(roots=[Root(uri=window.resolve().as_uri())])  # type: ignore[arg-type]

    session = SimpleNamespace(
        client_capabilities=SimpleNamespace(roots=SimpleNamespace()),
        protocol_version="2025-06-18",
        send_request=send_request,
    )
    workspace = Workspace(tmp_path, explicit=False, targets=[])
    workspace.refresh(session)  # type: ignore[arg-type]

    async def followed() -> bool:
        return workspace.root == window.resolve()

    await wait_for(followed, what="the project root to follow the client's root")
    assert len(sent) == 2


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with a credential under a name no secret list covers."""
    folder = tmp_path / "home" / "dev"
    (folder / ".config" / "rclone").mkdir(parents=True)
    (folder / ".config" / "rclone" / "rclone.conf").write_text("[s3]\nsecret_access_key = RCLONE-HOME-SECRET\n")
    monkeypatch.setenv("HOME", str(folder))
    return folder


async def test_a_server_started_in_the_home_folder_reads_nothing_there(
    home: Path, redis_url: str, fake_api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that starts its MCP servers in ~ (no PERSONAS_PROJECT_ROOT) made the whole home the
    project: the model could read every tool's credentials (.config/rclone/rclone.conf, .m2/settings.xml)."""
    monkeypatch.chdir(home)
    for name in list(os.environ):
        if name.startswith("PERSONAS_"):
            monkeypatch.delenv(name)
    settings = _settings(redis_url, fake_api)
    assert settings.project_root.resolve() == home.resolve()
    async with Client(build_server(settings, watch=False), mode="legacy") as client:
        fake_api.add(fake.tool_use("read_file", {"path": ".config/rclone/rclone.conf"}), fake.text("Reviewed."))
        started = await client.call_tool("invoke_security", {"task": "review my setup"})
        job_id = (started.structured_content or {})["job_id"]
        done = await client.call_tool("wait_for_persona_job", {"job_id": job_id, "timeout_seconds": 30})
        assert (done.structured_content or {})["status"] == "complete", done.structured_content
    sent = " ".join(tool_results(fake_api.requests[-1]))
    assert "RCLONE-HOME-SECRET" not in sent
    assert "home folder" in sent and "PERSONAS_PROJECT_ROOT" in sent, sent
    assert "set HOME to another folder" in sent, sent  # the fix when the project is the home itself (containers)


def test_a_home_folder_or_one_above_it_is_never_a_client_root(home: Path, tmp_path: Path) -> None:
    from mcp_server.roots import Workspace

    project = _workspace(home, "project", "ok")  # a project inside the home folder is fine
    workspace = Workspace(tmp_path, explicit=False, targets=[])
    workspace.follow([home.resolve().as_uri(), home.parent.resolve().as_uri(), project.resolve().as_uri()])
    assert workspace.root == project.resolve()
    workspace.follow([home.resolve().as_uri()])
    assert workspace.root == tmp_path
