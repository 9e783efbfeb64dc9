"""``personas worker`` keeps what its start-up built out of the cyclic collector, as ``serve`` does:
persona jobs search the index, and full collections rescanning ~120k+ start-up objects cost a
~90 ms pause every few hundred searches."""

from __future__ import annotations

from pathlib import Path

from tests.probe import run_probe

WORKER_PROBE = """
import gc, json
import mcp_server.cli as cli
seen = {}
async def run_until_signal(main, **kwargs):
    # the worker is built and about to run its jobs: what is the collector's state?
    seen.update(frozen=gc.get_freeze_count() > 0, collector_on=gc.isenabled())
    main.cancel()
cli.run_until_signal = run_until_signal
seen["code"] = cli.main(["worker"])
print(json.dumps(seen))
"""


def test_the_worker_freezes_its_start_up_objects(tmp_path: Path, redis_url: str) -> None:
    seen = run_probe(
        WORKER_PROBE,
        cwd=tmp_path,
        env={"PERSONAS_PROJECT_ROOT": str(tmp_path), "PERSONAS_EMBEDDER": "hashing", "REDIS_URL": redis_url},
    )
    assert seen == {"frozen": True, "collector_on": True, "code": 0}
