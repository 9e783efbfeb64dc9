"""Ctrl-C during `personas index` (a real SIGINT to the real command, real model so the build is still
running): one line saying nothing is lost and how to finish, exit 130, no traceback; the next search
opens the index and answers."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
from pathlib import Path

from tests.newuser.cli_run import PERSONAS_BIN, personas, user_env

WORDS = ("cache", "queue", "retry", "lease", "tenant", "audit", "token", "cursor", "shard", "replica", "canary")


def test_ctrl_c_during_index_says_nothing_is_lost_and_the_next_search_answers(tmp_path: Path) -> None:
    project = tmp_path / "project"
    standards = project / ".agent-os" / "standards"
    (standards / "api").mkdir(parents=True)
    (standards / "api" / "paging.md").write_text("# Paging\n\nUse opaque cursors for okapi collections.\n")
    rng = random.Random(7)
    (standards / "gen").mkdir()
    for i in range(120):  # ~400 chunks for the real model: seconds of work still ahead at the first progress line
        paragraphs = (" ".join(rng.choice(WORDS) for _ in range(80)) for _ in range(6))
        (standards / "gen" / f"topic{i}.md").write_text(f"# Topic {i}\n\n" + "\n\n".join(paragraphs))
    env = user_env(PERSONAS_EMBEDDER="sentence-transformers")
    proc = subprocess.Popen(
        [PERSONAS_BIN, "index"],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # blocks until the build reports progress (or the command ends)
        assert first.startswith("indexing: "), first
        proc.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("personas index: interrupted (Ctrl-C). Nothing is lost"), err
    assert "run personas index again" in last
    assert "indexed " not in out  # no summary of a build that did not finish
    shutil.rmtree(standards / "gen")  # keep the follow-up cheap: it embeds only what is left
    done = personas("search", "okapi cursors", "--json", cwd=project, PERSONAS_EMBEDDER="sentence-transformers")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"][0]["file"] == "api/paging.md"
