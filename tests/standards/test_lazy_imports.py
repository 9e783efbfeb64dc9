"""Starting the server imports none of the heavy search libraries nor the job system: they load on a
thread once the client has the tool list (Redis, arq, the stores, the index: mcp_server.app), once
the server is up (LanceDB, the model runtime) or with the first in-memory copy of the index (numpy,
bm25s, PyStemmer), so `tools/list` never waits for them."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from tests.probe import REPO, run_probe

HEAVY = [
    "lancedb",
    "pyarrow",
    "numpy",
    "onnxruntime",
    "tokenizers",
    "bm25s",
    "Stemmer",
    "scipy",
    "torch",
    "sentence_transformers",
    "transformers",
    "anthropic",
    "rich",  # the SDK's logging set-up imports it for a handler that goes unused once the CLI set up logging
    # The job system and the index's store: opened after tools/list (mcp_server.server, OPEN_AFTER_SECONDS).
    "redis",
    "arq",
    "aiosqlite",
    "filelock",
    "wcmatch",
    "watchdog",
    "mcp_server.app",
    "worker.service",
    "worker.store",
    "standards.index.searcher",
]

PROBE = """
import json, sys
import mcp_server.cli as cli
cli.build_parser()
from mcp_server.log_setup import configure_logging
configure_logging("WARNING")  # as `personas serve` does before it builds the server
from mcp_server.server import build_server
from mcp_server.settings import Settings
build_server(Settings())
print(json.dumps({"loaded": [m for m in HEAVY if m in sys.modules], "server": "mcp_server.server" in sys.modules}))
"""


def _probe(tmp_path: Path, before: str = "") -> dict[str, Any]:
    """Run the probe in a fresh interpreter (``before``: code run first) and return its report."""
    report: dict[str, Any] = run_probe(
        f"HEAVY = {HEAVY!r}\n{before}{PROBE}", cwd=tmp_path, env={"PERSONAS_PROJECT_ROOT": str(tmp_path)}
    )
    return report


def test_building_the_server_imports_no_heavy_library(tmp_path: Path) -> None:
    assert _probe(tmp_path) == {"loaded": [], "server": True}


def test_the_probe_sees_an_eager_import(tmp_path: Path) -> None:
    """The probe itself works: a library imported on the way is reported."""
    assert _probe(tmp_path, "import numpy\n")["loaded"] == ["numpy"]


#: What `personas serve` over stdio does not import before it answers tools/list, beyond HEAVY: the
#: command line's other commands (report renderers, git), the persona run (briefing, prompt, toolbox),
#: the SQLite opener and the HTTP transport.
NOT_BEFORE_TOOLS_LIST = [
    *HEAVY,
    "standards.sqlite",
    "mcp_server.http",
    "personas.report.render",
    "personas.report.sarif",
    "personas.changes.git",
    "personas.changes.resolve",
    "personas.runtime.briefing",
    "personas.runtime.prompt",
    "personas.runtime.toolbox",
]

#: `personas serve`, noting the modules it has imported when it answers tools/list (the moment the
#: stores may start to open: mcp_server.starting.Starting.want), in the file named by argv[1].
SERVE_NOTING_MODULES = """
import json, sys
from mcp_server.starting import Starting
noted = sys.argv[1]
real_want = Starting.want
def want(self):
    if not hasattr(want, "noted"):
        want.noted = True
        with open(noted, "w") as out:
            json.dump(sorted(sys.modules), out)
    real_want(self)
Starting.want = want
from mcp_server.cli import main
raise SystemExit(main(["serve", "--no-worker", "--no-watch"]))
"""


async def test_the_stdio_server_answers_tools_list_before_importing_what_only_later_work_needs(
    tmp_path: Path,
) -> None:
    """`personas serve` as an assistant starts it, driven by the SDK's client: tools/list is answered
    with the tools, and none of the modules that only tool calls, the job system or other commands
    need were imported by then (each costs start-up time the assistant waits through)."""
    noted = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONAS_", "ANTHROPIC_")) and k != "REDIS_URL"}
    env.update(PERSONAS_PROJECT_ROOT=str(tmp_path), PERSONAS_EMBEDDER="hashing", PYTHONPATH=str(REPO))
    params = StdioServerParameters(
        command=sys.executable, args=["-c", SERVE_NOTING_MODULES, str(noted)], env=env, cwd=tmp_path
    )
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"invoke_security", "search_standards"} <= names
    loaded = set(json.loads(noted.read_text()))
    assert "mcp_server.server" in loaded  # the snapshot is of the server's process
    assert [m for m in NOT_BEFORE_TOOLS_LIST if m in loaded] == []


@pytest.mark.parametrize("package", ["standards", "personas.changes", "personas.report", "personas.runtime"])
def test_each_lazy_package_name_resolves_once_and_an_unknown_one_is_named(package: str) -> None:
    """The packages share one PEP 562 ``__getattr__`` (standards.lazy_names): every name in ``__all__``
    resolves to its module's object and is kept, and a misspelt name says which package lacks it."""
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        assert vars(module)[name] is value  # kept: the next lookup is a plain attribute read
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'Nope'"):
        module.Nope  # noqa: B018
