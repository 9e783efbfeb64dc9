"""Trim the prose out of ``tools/list`` that the model does not need, keeping every schema's meaning.

Output schemas stay (clients validate structured results with them) but lose their ``title``,
``description``, ``default`` and length-bound keys, ``anyOf: [{type: T}, {type: null}]`` becomes
``type: [T, null]``, and a ``$defs`` entry used once is written where it is used (same meaning, no
name and reference). Input schemas lose the per-property ``title`` pydantic adds; an optional argument
whose default is null is advertised without the null (omitting it says the same; the server still
accepts an explicit null) and an optional flag without its ``false`` default; the descriptions are
what the model reads to fill arguments. Descriptions lose the indentation of docstrings. Applied as
server middleware, so it trims what goes on the wire for every transport.
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


def inline_single_use_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """``$defs`` entries referenced exactly once replaced by their body at that place (merged with the
    reference's sibling keywords, which apply alongside it in 2020-12, when none clashes); the others
    stay in ``$defs``. A def is inlined only where it is used, so a cycle keeps its references."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict) or not defs:
        return schema
    counts: dict[str, int] = {}
    _count_refs(schema, counts)
    once = {name for name in defs if counts.get(DEFS_REF + name) == 1}
    inlined: set[str] = set()

    def expand(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [expand(item, expanding) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(DEFS_REF):
            name = ref.removeprefix(DEFS_REF)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            body = defs.get(name)
            if name in once and name not in expanding and isinstance(body, dict) and not set(body) & set(siblings):
                inlined.add(name)
                return expand({**body, **siblings}, expanding | {name})
        return {key: expand(value, expanding) for key, value in node.items() if key != "$defs"}

    out = expand(schema, frozenset())
    kept = {name: expand(body, frozenset({name})) for name, body in defs.items() if name not in inlined}
    kept = {name: body for name, body in kept.items() if name not in inlined}
    return {**out, "$defs": kept} if kept else out


DEFS_REF = "#/$defs/"


def _count_refs(node: Any, counts: dict[str, int]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            counts[ref] = counts.get(ref, 0) + 1
        for value in node.values():
            _count_refs(value, counts)
    elif isinstance(node, list):
        for item in node:
            _count_refs(item, counts)


def omit_null_options(schema: dict[str, Any]) -> dict[str, Any]:
    """An input schema (after ``strip_keys``) whose optional properties without a default (a null
    default was dropped) are advertised without ``null`` in their type or enum, and optional flags
    without their ``false`` default: the model leaves them out rather than sending null or false."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return schema
    required = set(schema.get("required", []))
    out: dict[str, Any] = {}
    for name, prop in properties.items():
        out[name] = prop if name in required or not isinstance(prop, dict) else _omittable(prop)
    return {**schema, "properties": out}


def _omittable(prop: dict[str, Any]) -> dict[str, Any]:
    if prop.get("type") == "boolean" and prop.get("default") is False:
        return {key: value for key, value in prop.items() if key != "default"}
    if "default" in prop:
        return prop  # null may differ from the default: keep it
    out = dict(prop)
    kind = out.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [k for k in kind if k != "null"]
        out["type"] = rest[0] if len(rest) == 1 else rest
    if isinstance(out.get("enum"), list) and None in out["enum"]:
        out["enum"] = [value for value in out["enum"] if value is not None]
    return out


def tidy_description(text: str) -> str:
    """Docstring indentation removed and wrapped lines joined; paragraphs and list items kept."""
    return re.sub(r"(?<!\n)\n(?![\n-])", " ", inspect.cleandoc(text))


OUTPUT_PROSE = frozenset(
    {"title", "description", "default", "x-server-set", "minLength", "maxLength", "minItems", "maxItems"}
    | {"minimum", "maximum", "required"}
)
"""Output schemas also lose bounds (they constrain what the model writes, not what clients read) and
``required``: the server validates every result against its model and serialises every field (null
when unset), so every listed key is always there; the schema still types each value."""
INPUT_PROSE = frozenset({"title"})


def trim_tool(tool: dict[str, Any]) -> dict[str, Any]:
    trimmed = dict(tool)
    if isinstance(tool.get("description"), str):
        trimmed["description"] = tidy_description(tool["description"])
    if isinstance(tool.get("inputSchema"), dict):
        trimmed["inputSchema"] = omit_null_options(strip_keys(inline_single_use_defs(tool["inputSchema"]), INPUT_PROSE))
    if isinstance(tool.get("outputSchema"), dict):
        trimmed["outputSchema"] = strip_keys(inline_single_use_defs(tool["outputSchema"]), OUTPUT_PROSE)
    return trimmed


async def trim_tools_list(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: trim each tool of a ``tools/list`` result; every other message passes."""
    result = await call_next(ctx)
    if ctx.method != "tools/list" or not isinstance(result, dict) or not isinstance(result.get("tools"), list):
        return result
    return {**result, "tools": [trim_tool(t) if isinstance(t, dict) else t for t in result["tools"]]}
