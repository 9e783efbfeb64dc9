"""Snapshot of the tool definitions the model sees (regenerate with UPDATE_SNAPSHOTS=1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from personas.model import ALL_RUN_TOOLS
from personas.runtime.tools import tool_params

if TYPE_CHECKING:  # the real dependencies satisfy the runtime's protocols
    from personas.runtime import ProposalSink, StandardsSearch
    from standards.curation.store import ProposalStore
    from standards.index.searcher import IndexSearcher

    def _search(index: IndexSearcher) -> StandardsSearch:
        return index

    def _sink(store: ProposalStore) -> ProposalSink:
        return store


SNAPSHOT = Path(__file__).parent / "snapshots" / "run_tools.json"


def test_tool_definitions_match_the_snapshot() -> None:
    current = json.dumps(tool_params(list(ALL_RUN_TOOLS)), indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text()


def test_schemas_are_self_contained() -> None:
    text = json.dumps(tool_params(list(ALL_RUN_TOOLS)))
    assert "$ref" not in text
    assert "$defs" not in text
    assert '"title": "' not in text.replace('"title": {', "")
