"""Settings come from the environment; bad values name the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.cli import main
from mcp_server.settings_load import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("PERSONAS_") or name in ("REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))


def test_defaults_live_under_the_project(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.standards_dir == tmp_path.resolve() / ".agent-os" / "standards"
    assert settings.data_dir == tmp_path.resolve() / ".agent-os" / "data"
    assert settings.redis_url is None
    assert settings.api_key is None


def test_standard_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/2")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9999/")
    monkeypatch.setenv("PERSONAS_WORKER_CONCURRENCY", "7")
    monkeypatch.setenv("PERSONAS_STANDARDS_DIR", "/srv/standards")
    settings = load_settings()
    assert settings.redis_url == "redis://cache:6379/2"
    assert settings.api_key == "sk-ant-test"
    assert "sk-ant-test" not in repr(settings)
    assert settings.anthropic_base_url == "http://127.0.0.1:9999"
    assert settings.worker_concurrency == 7
    assert settings.standards_dir == Path("/srv/standards")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PERSONAS_WORKER_CONCURRENCY", "lots"),
        ("PERSONAS_WORKER_CONCURRENCY", "0"),
        ("PERSONAS_JOB_TIMEOUT_SECONDS", "-5"),
        ("REDIS_URL", "localhost:6379"),
        ("ANTHROPIC_BASE_URL", "ftp://example"),
        ("PERSONAS_LOG_LEVEL", "chatty"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert f"\n  {variable}=" in str(info.value)  # the variable the user set (REDIS_URL, not PERSONAS_REDIS_URL)
    assert repr(value).lower() in str(info.value).lower()


@pytest.mark.parametrize("value", ["not json", '{"AGENTS.md": "general"', "[1, 2"])
def test_a_json_setting_that_is_not_json_is_named_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("PERSONAS_RULES_DOMAINS", value)
    with pytest.raises(SettingsError, match=r"PERSONAS_RULES_DOMAINS: not valid JSON .*write a JSON object"):
        load_settings()
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "PERSONAS_RULES_DOMAINS: not valid JSON" in err and "Traceback" not in err


def test_an_invalid_secret_setting_is_named_without_echoing_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONAS_DATABASE_URL", "mysql://alice:S3cretPW@db.example/app")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "PERSONAS_DATABASE_URL" in str(info.value) and "S3cretPW" not in str(info.value)
    monkeypatch.delenv("PERSONAS_DATABASE_URL")
    monkeypatch.setenv("REDIS_URL", "redis//:hunter2@cache.example:6379")  # a typo'd URL with a password
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "REDIS_URL='redis//:***@cache.example:6379'" in str(info.value) and "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:S3cretPW@db.example:5432/app",
        "postgresql://alice@db.example/app?password=S3cretPW&sslmode=require",
        "postgresql://db.example/app?user=alice&PASSWORD=S3cretPW",
        "postgresql:///app?host=/run/pg&sslpassword=S3cretPW",
        "postgres://alice:S3c@retPW@db.example/app",
    ],
)
def test_database_urls_are_redacted_wherever_libpq_takes_a_password(url: str) -> None:
    from standards.db import redact

    shown = redact(url)
    assert "S3c" not in shown and "***" in shown
    assert "db.example" in shown or "/run/pg" in shown


def test_cli_reports_bad_settings_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PERSONAS_QUEUE_POLL_INTERVAL", "soon")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "PERSONAS_QUEUE_POLL_INTERVAL='soon'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_project_root_that_is_no_folder_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    root = tmp_path / "checkout"
    if kind == "file":
        root.write_text("not a folder")
    monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(root))
    with pytest.raises(SettingsError, match=r"PERSONAS_PROJECT_ROOT=.*checkout'"):
        load_settings()
    assert main(["doctor"]) == 2
    err = capsys.readouterr().err
    assert "PERSONAS_PROJECT_ROOT=" in err and "data dir" not in err


def test_worker_with_redis_down_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.redis_process import free_port

    port = free_port()  # nothing listens there
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setenv("PERSONAS_EMBEDDER", "hashing")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert f"personas worker: cannot reach Redis at 127.0.0.1:{port}" in err and "fix REDIS_URL" in err
    assert "Traceback" not in err


def test_worker_without_redis_url_explains_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker"]) == 2
    assert "REDIS_URL is not set" in capsys.readouterr().err


def test_new_scaffolds_a_loadable_custom_persona(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from personas.registry import PersonaRegistry

    assert main(["new", "accessibility", "--from", "security"]) == 0
    created = tmp_path / ".agent-os" / "personas" / "accessibility.md"
    assert created.is_file()
    registry = PersonaRegistry.load(created.parent)
    assert registry.get("accessibility").origin == "project"
    assert main(["new", "accessibility", "--from", "security"]) == 2
    assert main(["new", "x", "--from", "nobody"]) == 2
    assert "Unknown persona 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("n" * 81, "the new persona would not load (name: String should have at most 80 characters)"),
        ("Reviewer\nid: evil", "--name 'Reviewer\\nid: evil': one line without control characters"),
    ],
)
def test_new_refuses_a_name_the_server_would_not_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, says: str
) -> None:
    """It used to write the file and say "Created": every later command then logged it as skipped."""
    assert main(["new", "reviewer", "--from", "security", "--name", name]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / ".agent-os" / "personas" / "reviewer.md").exists()
