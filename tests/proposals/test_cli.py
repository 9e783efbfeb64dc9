"""`personas standards list|show|approve|reject|request-changes|add`."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import astuple
from pathlib import Path

import pytest
import redis

from mcp_server.cli import main
from standards.curation.store import ProposalStore
from standards.frontmatter import parse
from tests.proposals.conftest import DRAFT
from worker.models import JobState
from worker.standards_events import CHANNEL
from worker.store import JobStore


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))
    return tmp_path


def _standards(root: Path) -> Path:
    return root / ".agent-os" / "standards"


def _seed(root: Path, **overrides: object) -> str:
    async def seed() -> str:
        async with ProposalStore.open(root / ".agent-os" / "data" / "proposals.sqlite3", _standards(root)) as store:
            return await store.create_draft(**{**DRAFT, **overrides})

    return asyncio.run(seed())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["standards", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_show_approve_reject(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _seed(root)
    second = _seed(root, topic="token-storage", title="Store tokens safely")

    code, out, _ = _run(capsys, "list")
    assert code == 0 and first in out and second in out and "security/token-storage.md" in out
    code, out, _ = _run(capsys, "show", first)
    assert code == 0 and "## Summary" in out and f"personas standards approve {first}" in out
    code, out, _ = _run(capsys, "approve", first, "--approved-by", "dana", "--json")
    assert code == 0 and json.loads(out)["approved_by"] == "dana"
    meta, _, _ = astuple(parse((_standards(root) / "security" / "jwt-verification.md").read_text()))
    assert meta["approved_by"] == "dana"
    code, _, err = _run(capsys, "approve", first)
    assert code == 2 and "already approved" in err
    code, out, _ = _run(capsys, "reject", second, "--feedback", "covered by jwt-verification")
    assert code == 0 and "rejected" in out
    code, out, _ = _run(capsys, "list", "--status", "all", "--json")
    assert {p["status"] for p in json.loads(out)["proposals"]} == {"approved", "rejected"}
    code, _, err = _run(capsys, "show", "nope")
    assert code == 2 and "No standard proposal with id 'nope'" in err


def test_an_approval_from_the_shell_is_announced_to_the_worker_replicas(
    root: Path, capsys: pytest.CaptureFixture[str], redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)  # a team deployment: workers keep their own index replicas
    pid = _seed(root)
    listener = redis.Redis.from_url(redis_url).pubsub()  # type: ignore[no-untyped-call]
    listener.subscribe(CHANNEL)
    assert listener.get_message(timeout=30) is not None  # subscribed
    try:
        code, out, _ = _run(capsys, "approve", pid, "--json")
        assert code == 0 and json.loads(out)["file"] == "security/jwt-verification.md"
        message = listener.get_message(ignore_subscribe_messages=True, timeout=30)
    finally:
        listener.close()
    assert message is not None, "no standards-changed event"
    assert json.loads(message["data"]) == {"paths": ["security/jwt-verification.md"]}


def test_approve_with_edits_file(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = _seed(root)
    edits = tmp_path / "edited.md"
    edits.write_text("# Verify JWTs\n\nEdited by a human.\n")
    code, out, _ = _run(capsys, "approve", pid, "--edits", str(edits))
    assert code == 0 and "created at" in out
    assert "Edited by a human." in (_standards(root) / "security" / "jwt-verification.md").read_text()


def test_approve_with_an_unusable_edits_file_names_it_and_changes_nothing(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pid = _seed(root)
    latin1 = tmp_path / "latin1.md"
    latin1.write_bytes("# Caf\xe9\n".encode("latin-1"))
    for edits, why in [
        ("/dev/zero", "larger than"),  # an endless file must not be read into memory
        (str(latin1), "not UTF-8"),
        (str(tmp_path / "missing.md"), "cannot read it"),
    ]:
        code, _, err = _run(capsys, "approve", pid, "--edits", edits)
        assert code == 2 and f"--edits {edits}" in err and why in err, err
    assert not (_standards(root) / "security" / "jwt-verification.md").exists()


def test_request_changes_queues_a_job(
    root: Path, redis_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = _seed(root)
    code, _, err = _run(capsys, "request-changes", pid, "--feedback", "add examples")
    assert code == 2 and "no Redis found" in err
    monkeypatch.setenv("REDIS_URL", redis_url)
    code, out, err = _run(capsys, "request-changes", pid, "--feedback", "add examples", "--json")
    assert code == 0, err
    job_id = json.loads(out)["revision_job_id"]

    async def read_job() -> JobState | None:
        async with JobStore.open(root / ".agent-os" / "data" / "jobs.sqlite3") as jobs:
            return await jobs.get(job_id)

    job = asyncio.run(read_job())
    assert job is not None and job.persona == "security" and "add examples" in job.task


# ---------------------------------------------------------------- import


def test_add_markdown_keeps_front_matter(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "In Coming" / "API Design (v2).md"
    doc.parent.mkdir()
    doc.write_text(
        "\ufeff---\ntitle: API design\ntags: [api, rest]\nowner: platform\ncreated_at: 2024-03-01\n---\n"
        "# API design\n\nUse nouns for resources.\n",
        encoding="utf-8",
    )
    code, out, err = _run(capsys, "add", str(doc), "--domain", "architecture", "--approved-by", "erin")
    assert code == 0, err
    target = _standards(root) / "architecture" / "api-design-v2.md"
    assert str(target) in out
    meta, body, warning = astuple(parse(target.read_text()))
    assert warning is None
    assert (meta["title"], meta["domain"], meta["tags"], meta["owner"], meta["created_at"]) == (
        "API design",
        "architecture",
        ["api", "rest"],
        "platform",
        "2024-03-01",
    )
    assert (meta["approved_by"], meta["created_by"], meta["version"]) == ("erin", "erin", 1)
    assert body == "# API design\n\nUse nouns for resources.\n"
    # never overwrites
    code, _, err = _run(capsys, "add", str(doc), "--domain", "architecture")
    assert code == 2 and "already exists" in err
    assert "Use nouns" in target.read_text()


def test_add_text_file_with_topic(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "notes.TXT"
    doc.write_text("Rotate on-call weekly.\n")
    code, _, err = _run(capsys, "add", str(doc), "--domain", "operations", "--topic", "On Call Rotation")
    assert code == 0, err
    meta, body, _ = astuple(parse((_standards(root) / "operations" / "on-call-rotation.md").read_text()))
    assert meta["title"] == "On call rotation" and body.startswith("# On call rotation\n\nRotate on-call")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("policy.pdf", b"%PDF-1.7", "only Markdown or text documents"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"),
        ("latin.md", "café".encode("latin-1"), "not valid UTF-8"),
        ("big.md", b"# Big\n" + b"x" * 1_000_001, "limit is 1,000,000 bytes"),
        ("empty.md", b"  \n", "is empty"),
        ("keys.md", b"# Keys\n\nAWS_ACCESS_KEY_ID=AKIAZ7QWERTYUIOPASDF\n", "keys.md line 3: AWS access key ID"),
        ("broken.md", b"---\ntitle: [unclosed\n---\n# x\n", "front matter is not valid YAML"),
        ("---.md", b"# Dashes\n", "cannot derive a topic"),
    ],
)
def test_add_refuses(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes, says: str
) -> None:
    doc = tmp_path / name
    doc.write_bytes(data)
    code, _, err = _run(capsys, "add", str(doc), "--domain", "security")
    assert code == 2 and says in err, err
    assert "AKIAZ7QWERTYUIOPASDF" not in err
    assert not _standards(root).exists() or list(_standards(root).rglob("*.md")) == []


def test_add_refuses_bad_domain_and_missing_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "ok.md"
    doc.write_text("# Ok\n")
    code, _, err = _run(capsys, "add", str(doc), "--domain", "../etc")
    assert code == 2 and "kebab-case slug" in err
    code, _, err = _run(capsys, "add", str(tmp_path / "missing.md"), "--domain", "security")
    assert code == 2 and "no such file" in err
    assert not (tmp_path / "etc").exists()
