"""The tools/list trimming: single-use $defs written in place, optional inputs advertised without null."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from mcp_server.tools.trim import inline_single_use_defs, omit_null_options, strip_keys, trim_tool

REPORT: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Progress": {"type": "object", "properties": {"percent": {"type": "integer"}}},
        "Tag": {"type": "string"},
        "Status": {"enum": ["on", "off"]},
        "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
    },
    "properties": {
        "progress": {"anyOf": [{"$ref": "#/$defs/Progress"}, {"type": "null"}], "default": None},
        "first": {"$ref": "#/$defs/Tag"},
        "status": {"$ref": "#/$defs/Status", "description": "What state."},
        "others": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
        "tree": {"$ref": "#/$defs/Node"},
    },
    "required": ["first"],
}


def test_defs_used_once_are_written_in_place_and_shared_or_recursive_ones_stay() -> None:
    out = inline_single_use_defs(REPORT)
    assert out["properties"]["progress"]["anyOf"][0] == REPORT["$defs"]["Progress"]
    assert out["properties"]["status"] == {"enum": ["on", "off"], "description": "What state."}
    assert out["properties"]["first"] == {"$ref": "#/$defs/Tag"}  # used twice
    assert out["properties"]["tree"] == {"$ref": "#/$defs/Node"}  # refers to itself
    assert set(out["$defs"]) == {"Tag", "Node"}
    trimmed = trim_tool({"name": "t", "inputSchema": {"type": "object"}, "outputSchema": REPORT})["outputSchema"]
    progress = {"type": ["object", "null"], "properties": {"percent": {"type": "integer"}}}
    assert trimmed["properties"]["progress"] == progress
    assert "required" not in trimmed


@pytest.mark.parametrize(
    "value",
    [
        {"progress": None, "first": "a", "others": ["b"], "tree": {"child": {}}},
        {"progress": {"percent": 3}, "first": "a", "others": [], "tree": {}},
        {"progress": {"percent": "3"}, "first": "a", "others": [], "tree": {}},
        {"progress": None, "first": 1, "others": [], "tree": {}},
        {"progress": None, "first": "a", "status": "maybe", "others": [], "tree": {}},
        {"progress": None, "first": "a", "others": [], "tree": {"child": {"child": 5}}},
    ],
)
def test_inlining_keeps_what_validates(value: dict[str, Any]) -> None:
    def valid(schema: dict[str, Any]) -> bool:
        return bool(jsonschema.Draft202012Validator(schema).is_valid(value))

    assert valid(inline_single_use_defs(REPORT)) == valid(REPORT)
    assert valid(strip_keys(inline_single_use_defs(REPORT), frozenset({"title"}))) == valid(REPORT)


def test_optional_inputs_are_advertised_without_null_and_false_defaults() -> None:
    schema = strip_keys(
        {
            "type": "object",
            "properties": {
                "task": {"type": "string"},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "level": {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}], "default": None},
                "keep": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": "x"},
                "flag": {"type": "boolean", "default": False},
                "on": {"type": "boolean", "default": True},
                "must": {"type": ["string", "null"]},
            },
            "required": ["task", "must"],
        },
        frozenset({"title"}),
    )
    assert omit_null_options(schema)["properties"] == {
        "task": {"type": "string"},
        "note": {"type": "string"},
        "level": {"enum": ["a", "b"]},
        "keep": {"type": ["string", "null"], "default": "x"},  # null differs from the default: kept
        "flag": {"type": "boolean"},
        "on": {"type": "boolean", "default": True},
        "must": {"type": ["string", "null"]},  # required: null is a value the caller must be able to send
    }
