"""Client-supplied code (issue 16 item 3): over MCP against the real server, a remote client's `files`
and `diff` are what the persona reads, hostile or oversized payloads are refused, a server that reads
its own disk refuses them, and the files live in the job database until the job is deleted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server.cli import main as cli_main
from mcp_server.cli_parser import build_parser
from mcp_server.server import build_server
from mcp_server.settings import Settings
from personas.changes.supplied import (
    SuppliedCodeError,
    SuppliedLimits,
    SuppliedSnapshot,
    check_supplied,
    supplied_changes,
)
from personas.runtime.sandbox import SandboxError
from tests.conftest import wait_for
from tests.fakes import anthropic_api as fake
from tests.fakes.anthropic_api import FakeAnthropic
from worker.job_files import job_files_count, load_job_files
from worker.store import JobStore

CLIENT_APP = "def login(user, password):\n    return check_hash(user, password)  # the client's version\n"
CLIENT_DIFF = """\
diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
 def login(user, password):
-    return user == 'admin'
+    return check_hash(user, password)  # the client's version
diff --git a/.env b/.env
new file mode 100644
--- /dev/null
+++ b/.env
@@ -0,0 +1 @@
+API_KEY=sk-live-very-secret
"""


def _tool_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        block
        for message in request["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]


def _text(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        report = (await client.call_tool("check_persona_job", {"job_id": job_id})).structured_content
        return report if report and report["status"] in ("complete", "failed", "cancelled") else None

    return await wait_for(done, timeout=60, what=f"job {job_id}")


async def test_the_persona_reads_the_clients_files_and_diff_not_the_disk(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    seen: list[Any] = []

    def submit(request: dict[str, Any]) -> fake.Reply:
        seen.extend(_tool_results(request))
        return fake.tool_use("submit_review", {"summary": "Looks fine.", "findings": [], "proposed_standards": []})

    fake_api.add(
        fake.tool_use("read_file", {"path": "app.py"}),
        fake.tool_use("list_files", {"pattern": "**/*"}),
        fake.tool_use("read_file", {"path": "server_only.py"}),
        submit,
    )
    settings = make_settings(
        redis_url=redis_url,
        anthropic_api_key="sk-test",
        anthropic_base_url=fake_api.base_url,
        remote_clients=True,
    )
    (settings.project_root / "server_only.py").write_text("SERVER_DISK = True\n")
    files = {"app.py": CLIENT_APP, "lib/util.py": "def check_hash(u, p):\n    return False\n"}
    async with Client(build_server(settings, watch=False)) as client:
        assert "send the code" in (client.instructions or "")
        started = await client.call_tool(
            "invoke_security", {"task": "review my change", "files": files, "diff": CLIENT_DIFF}
        )
        assert not started.is_error, _text(started)
        report = await _finished(client, (started.structured_content or {})["job_id"])

    assert report["status"] == "complete", report
    first = str(fake_api.requests[0]["messages"][0]["content"])
    assert "+    return check_hash(user, password)  # the client's version" in first
    assert "app.py: modified, changed lines 2" in first
    assert "# Files sent by the client (2)\n" in first and "- lib/util.py" in first
    assert "sk-live-very-secret" not in str(fake_api.requests)  # the secret file's section is withheld
    read, listing, server_file = (str(r["content"]) for r in seen[:3])
    assert "the client's version" in read and "user == 'admin'" not in read
    assert "lib/util.py" in listing and "server_only.py" not in listing
    assert seen[2].get("is_error") is True and "SERVER_DISK" not in server_file


async def test_a_panel_reads_the_clients_files(
    make_settings: Callable[..., Settings], redis_url: str, fake_api: FakeAnthropic
) -> None:
    fake_api.default = fake.tool_use("submit_review", {"summary": "ok", "findings": [], "proposed_standards": []})
    fake_api.add(fake.tool_use("read_file", {"path": "app.py"}), fake.tool_use("read_file", {"path": "app.py"}))
    settings = make_settings(
        redis_url=redis_url, anthropic_api_key="sk-test", anthropic_base_url=fake_api.base_url, remote_clients=True
    )
    async with Client(build_server(settings, watch=False)) as client:
        started = await client.call_tool(
            "invoke_panel",
            {"personas": ["security", "qa"], "task": "review", "context": "app.py", "files": {"app.py": CLIENT_APP}},
        )
        assert not started.is_error, _text(started)
        report = await _finished(client, (started.structured_content or {})["job_id"])
    assert report["status"] == "complete", report
    flat = json.dumps(fake_api.requests)
    assert "the client's version" in flat and "user == 'admin'" not in flat


async def test_hostile_paths_and_oversized_payloads_are_refused(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url, remote_clients=True)
    hostile = {
        "../outside.py": "'..'",
        "/etc/passwd": "absolute",
        "C:/Windows/win.ini": "absolute",
        "src\\app.py": "POSIX",
        "a\x1bb.py": "control characters",
        ".git/config": "version-control",
        "config/.env": "secrets",
        "./app.py": "'.'",
    }
    async with Client(build_server(settings, watch=False)) as client:
        answers = {
            path: await client.call_tool("invoke_qa", {"task": "review", "files": {path: "x = 1\n"}})
            for path in hostile
        }
        too_big = await client.call_tool("invoke_qa", {"task": "review", "files": {"big.py": "x" * 200_001}})
        too_many = await client.call_tool(
            "invoke_qa", {"task": "review", "files": {f"f{i}.py": "" for i in range(501)}}
        )
        too_much = await client.call_tool(
            "invoke_qa", {"task": "review", "files": {f"f{i}.py": "y" * 199_000 for i in range(26)}}
        )
        big_diff = await client.call_tool("invoke_qa", {"task": "review", "diff": "+" * 2_000_001})
        escape = "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n"
        bad_diff_path = await client.call_tool("invoke_qa", {"task": "review", "diff": escape})
        not_a_diff = await client.call_tool("invoke_qa", {"task": "review", "diff": "hello"})
        with_changes = await client.call_tool(
            "invoke_qa", {"task": "review", "diff": CLIENT_DIFF, "changes": "working"}
        )
        jobs = (await client.call_tool("list_persona_jobs", {})).structured_content

    for path, cause in hostile.items():
        assert answers[path].is_error, path
        assert cause in _text(answers[path]) and repr(path) in _text(answers[path]), _text(answers[path])
    assert too_big.is_error and "'big.py' is 200,001 bytes" in _text(too_big)
    assert too_many.is_error and "501 files sent; the limit is 500" in _text(too_many)
    assert too_much.is_error and "5,000,000 bytes in total" in _text(too_much)
    assert big_diff.is_error and "the cap is 2,000,000" in _text(big_diff)
    assert bad_diff_path.is_error and "'..'" in _text(bad_diff_path)
    assert not_a_diff.is_error and "no file sections found" in _text(not_a_diff)
    assert with_changes.is_error and "leave out changes" in _text(with_changes)
    assert jobs is not None and jobs["total_count"] == 0  # nothing refused was stored


async def test_a_server_reading_its_own_disk_refuses_client_code(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    settings = make_settings(redis_url=redis_url)
    async with Client(build_server(settings, watch=False)) as client:
        assert "send the code" not in (client.instructions or "")
        refused = [
            await client.call_tool("invoke_qa", {"task": "review", "files": {"app.py": CLIENT_APP}}),
            await client.call_tool("invoke_qa", {"task": "review", "diff": CLIENT_DIFF}),
            await client.call_tool("invoke_panel", {"personas": ["qa", "sre"], "task": "r", "diff": CLIENT_DIFF}),
        ]
    for answer in refused:
        assert answer.is_error
        assert "--remote-clients" in _text(answer) and "PERSONAS_REMOTE_CLIENTS=true" in _text(answer)


async def test_files_are_kept_with_the_job_across_servers_and_gone_after_reset(
    make_settings: Callable[..., Settings],
    redis_url: str,
    fake_api: FakeAnthropic,
    database: Path | str,
    tmp_path: Path,
) -> None:
    """Submitted by a server without a worker; run by another server's worker (a restart on SQLite,
    another host's data dir on PostgreSQL): the files come from the job database, a follow-up reads its
    parent's, and a reset deletes them with the jobs."""
    seen: list[Any] = []

    def submit(request: dict[str, Any]) -> fake.Reply:
        seen.extend(_tool_results(request)[-1:])
        return fake.tool_use("submit_review", {"summary": "ok", "findings": [], "proposed_standards": []})

    fake_api.add(
        fake.tool_use("read_file", {"path": "app.py"}), submit, fake.tool_use("read_file", {"path": "app.py"}), submit
    )
    common: dict[str, Any] = {
        "redis_url": redis_url,
        "anthropic_api_key": "sk-test",
        "anthropic_base_url": fake_api.base_url,
        "remote_clients": True,
    }
    if isinstance(database, str):
        submitter = make_settings(database_url=database, data_dir=tmp_path / "host-a", **common)
        runner = make_settings(database_url=database, data_dir=tmp_path / "host-b", **common)
    else:
        submitter = runner = make_settings(**common)
    async with Client(build_server(submitter, run_worker=False, watch=False)) as client:
        started = await client.call_tool("invoke_security", {"task": "review", "files": {"app.py": CLIENT_APP}})
        assert not started.is_error, _text(started)
    job_id = (started.structured_content or {})["job_id"]
    async with JobStore.open(submitter.jobs_database) as store:
        assert await load_job_files(store, job_id) == {"app.py": CLIENT_APP}
    async with Client(build_server(runner, watch=False)) as client:
        report = await _finished(client, job_id)
        again = await client.call_tool("invoke_security", {"task": "and the rest?", "follow_up_of": job_id})
        follow_up = await _finished(client, (again.structured_content or {})["job_id"])
        reset = await client.call_tool("reset_persona_jobs", {"confirm": True})
        assert not reset.is_error, _text(reset)
    assert report["status"] == "complete" and follow_up["status"] == "complete", (report, follow_up)
    assert ["the client's version" in str(r["content"]) for r in seen] == [True, True]
    async with JobStore.open(runner.jobs_database) as store:
        assert await load_job_files(store, job_id) is None
        assert await job_files_count(store) == 0


async def test_only_a_server_for_remote_clients_lists_files_and_diff(
    make_settings: Callable[..., Settings], redis_url: str
) -> None:
    lists: dict[bool, dict[str, Any]] = {}
    for remote in (False, True):
        async with Client(build_server(make_settings(redis_url=redis_url, remote_clients=remote), watch=False)) as c:
            lists[remote] = {t.name: t.input_schema["properties"] for t in (await c.list_tools()).tools}
    for name in ("invoke_security", "invoke_qa", "invoke_panel"):
        assert {"files", "diff"} <= set(lists[True][name])
        assert not {"files", "diff"} & set(lists[False][name])
        assert "changes" in lists[False][name]
    assert lists[True]["invoke_qa"]["files"]["additionalProperties"] == {"type": "string"}


def test_remote_clients_flag_needs_http(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(make_settings().project_root))
    assert cli_main(["serve", "--remote-clients"]) == 2
    assert "--remote-clients needs --http" in capsys.readouterr().err
    assert build_parser().parse_args(["serve", "--http", "--remote-clients"]).remote_clients is True


def test_a_raw_diff_is_parsed_like_a_git_change() -> None:
    git_diff = (
        "diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\nrename to new.py\n"
        "--- a/old.py\n+++ b/new.py\n@@ -3,2 +3,3 @@ def f():\n a = 1\n+b = 2\n c = 3\n"
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        "diff --git a/logo.png b/logo.png\nnew file mode 100644\nBinary files /dev/null and b/logo.png differ\n"
    )
    changes = supplied_changes(git_diff, max_diff_chars=100_000)
    assert [(f.path, f.status, f.old_path, f.binary) for f in changes.files] == [
        ("new.py", "renamed", "old.py", False),
        ("gone.py", "deleted", None, False),
        ("logo.png", "added", None, True),
    ]
    assert changes.in_change("new.py", 4) and not changes.in_change("new.py", 3)
    plain = "--- src/a.py\t2026-01-01\n+++ src/a.py\t2026-01-02\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n y = 3\n"
    (only,) = supplied_changes(plain, max_diff_chars=100_000).files
    assert (only.path, only.status, [(r.start, r.end) for r in only.ranges]) == ("src/a.py", "modified", [(1, 1)])
    with pytest.raises(SuppliedCodeError, match="absolute"):
        supplied_changes("--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", max_diff_chars=100_000)


def test_supplied_files_pass_the_same_text_checks_as_disk_reads() -> None:
    limits = SuppliedLimits()
    with pytest.raises(SuppliedCodeError, match="not valid UTF-8"):
        check_supplied({"a.py": "x = '\ud800'\n"}, None, limits)
    with pytest.raises(SuppliedCodeError, match="binary"):
        check_supplied({"a.py": "x\x00y"}, None, limits)
    snapshot = SuppliedSnapshot({"a.py": "\ufeffx = 1\n", "pkg/b.py": "", ".env.example": "K=\n"}, max_file_bytes=10)
    assert snapshot.read_text("./a.py").text == "x = 1\n"  # BOM dropped, like a disk read
    with pytest.raises(SandboxError, match="is a directory"):
        snapshot.read_text("pkg")
    with pytest.raises(SandboxError, match=r"'\.\.'"):
        snapshot.read_text("../a.py")
    assert snapshot.list_files("**/*", limit=10) == ([".env.example", "a.py", "pkg/b.py"], 3)
    big = SuppliedSnapshot({"a.py": "x" * 11}, max_file_bytes=10)
    with pytest.raises(SandboxError, match="over the 10-byte cap"):
        big.read_text("a.py")
