"""The cyclic garbage collector in the long-running processes (``personas serve``, ``personas worker``).

Start-up makes ~200k objects that live as long as the process (modules, settings, tool schemas,
stores): :func:`mcp_server.cli.main` pauses the collector while they are made (it would scan them
again and again, ~15-20 % of a server's start), and a long-running command then freezes them with
:func:`freeze_startup_objects`, so the full collections that come every few hundred calls never
scan them again (~190k objects, ~90-140 ms per collection on a busy 2-core machine: a pause in
some search). A process that froze its start-up freezes once more after its first in-memory copy
of the vectors (:mod:`standards.index.memory_vectors`): the search modules import lazily.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Keep every object alive now out of the cyclic collector's scans from now on, then let the
    collector run (objects made later are collected as usual; frozen ones are freed by reference
    counting when they die, only cycles among them stay)."""
    gc.freeze()
    gc.enable()
