"""Reliability suite: nothing lost, nothing stuck (the README's "Jobs: never lost, never stuck").

Each test drives the real parts (MCP client and server, arq workers, Redis, SQLite, LanceDB, the
real ``anthropic`` client against the scripted fake API) through one failure and asserts that every
job ends ``complete`` or ``failed`` with a reason, that nothing ran more often than allowed, and that
search keeps answering.

| test module | failure |
|---|---|
| ``test_server_restart`` | the server stops (gracefully, or SIGKILLed) with jobs running and queued |
| ``test_llm_storm`` | 429 / 529 / 500 / timeouts / permanent errors across ~20 concurrent jobs |
| ``test_burst`` | 100 jobs at once on the server's worker plus a second worker |
| ``test_reindex_under_search`` | files added, changed and deleted under continuous searches |
| ``test_index_damage`` | the index folder deleted or garbled while the server runs |

Covered elsewhere, not repeated here:

- worker SIGKILLed mid-job → re-run on another worker: ``tests/jobs/test_recovery.py``
  (``test_sigkilled_worker_process_job_completes_on_another_worker``, and the lease/reaper unit cases);
- Redis down at invoke, and Redis restarted (empty) mid-burst: ``tests/jobs/test_outages.py``;
- a corrupt index found at start, and a reader surviving the writer's rebuild:
  ``tests/standards/test_index.py``.
"""
