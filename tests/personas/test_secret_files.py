"""The secret-file denylist (any case, any depth) and no-follow opens that a symlink swap cannot escape."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from personas.runtime.sandbox import ProjectSandbox, SandboxError, is_secret_name

REFUSED = [
    ".env",
    ".ENV",
    "config/.Env.local",
    "ID_RSA",
    "id_rsa.bak",
    "keys/id_ed25519_old",
    "SERVER.PEM",
    "tls/server.key",
    ".aws/credentials",
    "home/.AWS/config",
    ".ssh/known_hosts",
    ".git-credentials",
    ".pgpass",
    ".envrc",
    "infra/terraform.tfstate",
    "infra/terraform.tfstate.backup",
    "prod.tfvars",
    "putty.ppk",
    "app/keystore.jks",
    "prod.env",
    "deploy/PROD.ENV",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".docker/config.json",
    ".kube/config",
    "gcp/service-account-prod.json",
    "credentials.json",
    ".env~",  # editor backups and swap files of a secret file
    "config/.env.local.swp",
    ".vault-token",
    ".bash_history",
    "deploy/kubeconfig",
    "k8s/app-secrets.yaml",
    ".cargo/credentials.toml",  # cargo's registry token
    "Downloads/alice_credentials.csv",  # the AWS console's access key download
    "rootkey_accessKeys.csv",
    ".yarnrc.yml",  # npmAuthToken, like .npmrc
    ".terraformrc",
    "terraform.rc",
    ".config/gh/hosts.yml",  # the GitHub CLI's OAuth token
    ".cursor/mcp.json",  # MCP client configs hold the servers' env: the README puts ANTHROPIC_API_KEY there
    ".vscode/mcp.json",
    ".mcp.json",
    ".claude/settings.local.json",
    "claude_desktop_config.json",
]
ALLOWED = [
    ".env.example",
    ".ENV.SAMPLE",
    "id_rsa.pub",
    "src/env.py",
    "docs/environment.md",
    "keys.py",
    "config/settings.toml",
    "terraform/main.tf",
    "src/credentials_check.py",
    "docs/secrets-policy.md",
    "src/history.py",
    "src/credentials.py",
    "gh/hosts.py",
    "src/mcp_server.py",
    ".claude/settings.json",
]


@pytest.mark.parametrize("path", REFUSED)
def test_secret_files_are_refused_in_any_case(tmp_path: Path, path: str) -> None:
    assert is_secret_name(path)
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("SECRET=1\n")
    with pytest.raises(SandboxError, match="conventionally holds secrets"):
        ProjectSandbox(tmp_path, max_file_bytes=1_000).read_text(path)


@pytest.mark.parametrize("path", ALLOWED)
def test_ordinary_files_are_readable(tmp_path: Path, path: str) -> None:
    assert not is_secret_name(path)
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("x = 1\n")
    assert ProjectSandbox(tmp_path, max_file_bytes=1_000).read_text(path).text == "x = 1\n"


def test_a_link_to_a_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("SECRET=1\n")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "prod.env")
    with pytest.raises(SandboxError, match="conventionally holds secrets"):
        ProjectSandbox(tmp_path, max_file_bytes=1_000).read_text("notes.txt")


def test_a_folder_swapped_for_a_symlink_never_escapes_the_root(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file.txt").write_text("inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.txt").write_text("OUTSIDE\n")
    sandbox = ProjectSandbox(root, max_file_bytes=1_000)
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        while not stop.is_set():
            os.rename(root / "sub", root / "parked")
            os.symlink(outside, root / "sub")
            os.unlink(root / "sub")
            os.rename(root / "parked", root / "sub")
            swaps += 1

    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    results = {"inside": 0, "refused": 0, "escaped": 0}
    try:
        for _ in range(20_000):
            try:
                text = sandbox.read_text("sub/file.txt").text
            except SandboxError:
                results["refused"] += 1
                continue
            results["escaped" if "OUTSIDE" in text else "inside"] += 1
    finally:
        stop.set()
        thread.join(timeout=30)
    assert swaps > 0
    assert results["escaped"] == 0, results
    assert results["inside"] + results["refused"] == 20_000


def test_a_swap_right_after_the_check_is_refused(tmp_path: Path) -> None:
    """The race made deterministic: the folder becomes a symlink between resolve() and the open."""
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file.txt").write_text("inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file.txt").write_text("OUTSIDE\n")

    class SwapAfterCheck(ProjectSandbox):
        def resolve(self, raw: str) -> Path:
            real = super().resolve(raw)
            os.rename(root / "sub", root / "parked")
            os.symlink(outside, root / "sub")
            return real

    with pytest.raises(SandboxError, match="became a symlink"):
        SwapAfterCheck(root, max_file_bytes=1_000).read_text("sub/file.txt")


def test_a_file_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("OUTSIDE\n")
    (root / "a.txt").write_text("inside\n")
    sandbox = ProjectSandbox(root, max_file_bytes=1_000)
    real = sandbox.resolve("a.txt")
    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(OSError, match="symlink"):
        os.close(sandbox._open_beneath(real))
    shutil.rmtree(root)
