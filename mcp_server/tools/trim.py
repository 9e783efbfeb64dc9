"""Trim the prose out of ``tools/list`` that the model does not need, keeping every schema's meaning.

Output schemas stay (clients validate structured results with them) but lose their ``title``,
``description``, ``default`` and length-bound keys, and ``anyOf: [{type: T}, {type: null}]`` becomes
``type: [T, null]``; input schemas lose the per-property ``title`` pydantic adds and null defaults (the
descriptions are what the model reads to fill arguments); descriptions lose the indentation
of docstrings. Applied as server middleware, so it trims what goes on the wire for every transport.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
"""Keys whose values map names to schemas: the names are data (a field may be called 'title')."""


def strip_keys(schema: Any, drop: frozenset[str]) -> Any:
    """A copy of a JSON schema without the annotation keys in ``drop`` at any depth, nor null defaults
    (leaving a field out of ``required`` already says it may be omitted), nor ``additionalProperties:
    true`` (the default)."""
    if isinstance(schema, list):
        return [strip_keys(item, drop) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in drop or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_keys(sub, drop) for name, sub in value.items()}
        elif key in ("default", "const", "enum", "examples"):
            out[key] = value  # values, not schemas
        else:
            out[key] = strip_keys(value, drop)
    out = _nullable_as_type(out)
    if ("enum" in out or "const" in out) and isinstance(out.get("type"), str | list):
        del out["type"]  # the listed values already say it
    return out


def _nullable_as_type(schema: dict[str, Any]) -> dict[str, Any]:
    """``{anyOf: [{type: T, …}, {type: null}], …}`` → ``{type: [T, null], …}``, and ``{anyOf: [{enum: E},
    {type: null}]}`` → ``{enum: [*E, null]}`` (same meaning, fewer bytes)."""
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    other = next(o for o in options if o != {"type": "null"})
    if not isinstance(other, dict) or set(other) & set(schema):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    if isinstance(other.get("enum"), list):
        return {**other, "enum": [*other["enum"], None], **rest}
    if isinstance(other.get("type"), str):
        return {**other, "type": [other["type"], "null"], **rest}
    return schema


def tidy_description(text: str) -> str:
    """Docstring indentation removed and wrapped lines joined; paragraphs and list items kept."""
    return re.sub(r"(?<!\n)\n(?![\n-])", " ", inspect.cleandoc(text))


OUTPUT_PROSE = frozenset(
    {"title", "description", "default", "x-server-set", "minLength", "maxLength", "minItems", "maxItems"}
    | {"minimum", "maximum"}
)
"""Output schemas also lose bounds: they constrain what the model writes, not what clients read."""
INPUT_PROSE = frozenset({"title"})


def trim_tool(tool: dict[str, Any]) -> dict[str, Any]:
    trimmed = dict(tool)
    if isinstance(tool.get("description"), str):
        trimmed["description"] = tidy_description(tool["description"])
    if isinstance(tool.get("inputSchema"), dict):
        trimmed["inputSchema"] = strip_keys(tool["inputSchema"], INPUT_PROSE)
    if isinstance(tool.get("outputSchema"), dict):
        trimmed["outputSchema"] = strip_keys(tool["outputSchema"], OUTPUT_PROSE)
    return trimmed


async def trim_tools_list(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: trim each tool of a ``tools/list`` result; every other message passes."""
    result = await call_next(ctx)
    if ctx.method != "tools/list" or not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    return {**result, "tools": [trim_tool(t) if isinstance(t, dict) else t for t in result["tools"]]}
