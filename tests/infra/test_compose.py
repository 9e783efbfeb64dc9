"""docker-compose.yml, read as the deployment the README describes (no Docker engine needed): every
variable it sets is a setting the processes read and each service's environment is valid, no
data volume is shared between services, workers mount the standards read-only, and the image
gives the server's data volume to the user the processes run as."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from mcp_server.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("server", "worker")
#: ${NAME:-default} and ${NAME:?message}: compose's interpolation, as far as this file uses it.
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::(?P<op>[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _interpolate(value: str) -> str:
    """Compose's substitution with nothing set: the default, or a stand-in for a required value."""

    def one(match: re.Match[str]) -> str:
        if match["op"] == "?":
            return "x" * 64  # a required secret (PERSONAS_HTTP_TOKEN): any long value
        return match["arg"] or ""

    return INTERPOLATION.sub(one, value)


def _setting_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{name.upper()}")
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice) for choice in field.validation_alias.choices)
        elif isinstance(field.validation_alias, str):
            names.add(field.validation_alias)
    return names


def test_every_variable_set_for_the_app_is_a_setting_and_each_environment_is_valid(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    known = _setting_names()
    for service in APP_SERVICES:
        env = {key: _interpolate(str(value)) for key, value in compose["services"][service]["environment"].items()}
        unknown = sorted(key for key in env if key not in known)
        assert not unknown, f"{service} sets variables no setting reads: {unknown}"
        for name in [n for n in os.environ if n.startswith(ENV_PREFIX) or n == "REDIS_URL"]:
            monkeypatch.delenv(name)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("PERSONAS_PROJECT_ROOT", str(tmp_path))  # /workspace exists only in the container
        settings = Settings()
        assert settings.database_url is not None and settings.redis_url == "redis://redis:6379/0", service
        assert str(settings.standards_dir) == "/standards", service


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each short-syntax volume, after interpolation."""
    out = []
    for volume in service.get("volumes", []):
        parts = _interpolate(str(volume)).split(":")
        out.append((parts[0], parts[1], parts[2:] == ["ro"]))
    return out


def test_services_share_no_data_volume_and_workers_read_the_standards_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    named = set(compose.get("volumes") or {})
    users: dict[str, list[str]] = {}
    for name, service in services.items():
        for source, _, _ in _mounts(service):
            if source in named:
                users.setdefault(source, []).append(name)
    assert users and all(len(u) == 1 for u in users.values()), f"a named volume is shared: {users}"
    server, worker = services["server"], services["worker"]
    assert server["environment"]["PERSONAS_DATA_DIR"] in {target for _, target, _ in _mounts(server)}  # kept
    worker_data = worker["environment"]["PERSONAS_DATA_DIR"]
    assert not any(target == worker_data for _, target, _ in _mounts(worker)), "each worker's own, in its container"
    assert [ro for _, target, ro in _mounts(worker) if target == "/standards"] == [True], "read-only on workers"
    assert [ro for _, target, ro in _mounts(server) if target == "/standards"] == [False], "approvals write there"
    assert services["redis"]["command"][-2:] == ["--appendonly", "yes"], "queued jobs survive a Redis restart"
    assert any(target == "/var/lib/postgresql/data" for _, target, _ in _mounts(services["postgres"]))


def test_the_image_gives_the_server_data_volume_to_the_user_it_runs_as(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user is not None
    data_dir = compose["services"]["server"]["environment"]["PERSONAS_DATA_DIR"]
    # A named volume starts as a copy of the image's folder: it must exist there, owned by USER.
    assert re.search(rf"mkdir -p {re.escape(data_dir)} && chown {re.escape(user[1])} {re.escape(data_dir)}", dockerfile)
    assert dockerfile.index("chown") < dockerfile.index(f"USER {user[1]}")
