"""Careless and hostile calls: unknown tool arguments are refused, and error texts stay short.

The SDK drops arguments a tool does not take, so a misspelt ``contexts=`` or ``min_severty=``
would run a review without the context or the filter the caller meant; here it is refused,
naming the argument, the ones the tool takes and the closest (an unknown argument set to null
says nothing and is let through). An error that quotes a value the
caller sent (an unknown id, a bad filter) would hand a 100 KB value straight back into the
model's context; every error text (a tool's error result, or a protocol error such as an unknown
resource URI, with its data) is cut to a bound, keeping its start and its end (the fix).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent

MAX_ERROR_CHARS = 2000
"""An error text longer than this keeps its first and last parts around a note of what was cut."""
MAX_WORD_CHARS = 120
"""A single run of non-space characters (a pasted value) longer than this is shortened in place."""
_LONG_WORD = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


def unknown_arguments_error(tool: str, unknown: list[str], takes: list[str]) -> str:
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, takes, n=1, cutoff=0.6)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    plural = "s" if len(unknown) > 1 else ""
    return (
        f"{tool} has no argument{plural} {', '.join(hints)}: nothing was done. "
        f"It takes: {', '.join(takes) or 'no arguments'}."
    )


_VALIDATION = re.compile(r"\d+ validation errors? for \w+\n(?P<body>(?:.+\n?)+)\Z")
_VALIDATION_ENTRY = re.compile(r"^(?P<loc>\S.*)\n  (?P<rest>.*)$", re.MULTILINE)
_VALIDATION_DETAIL = re.compile(r"(?P<msg>.*?) \[type=(?P<type>\w+), input_value=(?P<value>.*), input_type=\w+\]")


def readable_validation_error(text: str) -> str:
    """pydantic's argument validation text, as the SDK returns it, in one line per argument:
    ``invalid arguments: limit=100000: Input should be less than or equal to 20`` (no model names,
    error types or links to pydantic's documentation); any other text unchanged."""
    match = _VALIDATION.search(text)
    if match is None:
        return text
    parts = []
    for entry in _VALIDATION_ENTRY.finditer(match.group("body")):
        loc, rest = entry.group("loc").replace("`", ""), entry.group("rest")
        if (detail := _VALIDATION_DETAIL.fullmatch(rest)) is None:
            parts.append(f"{loc}: {rest}")
        elif detail.group("type") == "missing":
            parts.append(f"{loc}: {detail.group('msg')}")
        else:
            parts.append(f"{loc}={detail.group('value')}: {detail.group('msg')}")
    if not parts:
        return text
    return f"{text[: match.start()]}invalid argument{'s' if len(parts) > 1 else ''}: {'; '.join(parts)}."


def shorten_error(text: str) -> str:
    """``text`` with overlong words cut to their start and, past MAX_ERROR_CHARS, its middle left out."""
    text = _LONG_WORD.sub(lambda m: f"{m.group()[:60]}…[{len(m.group()):,} characters]", text)
    if len(text) <= MAX_ERROR_CHARS:
        return text
    head, tail = text[: MAX_ERROR_CHARS // 2], text[-MAX_ERROR_CHARS // 4 :]
    return f"{head} …[{len(text) - len(head) - len(tail):,} characters left out]… {tail}"


def guard_tool_calls(
    arguments: Mapping[str, tuple[str, ...]], hidden: frozenset[str], left_out: Mapping[str, str] | None = None
) -> ServerMiddleware[Any]:
    """Server middleware for ``tools/call``: ``arguments`` maps each tool to the arguments it takes;
    ``hidden`` are accepted but not offered (not named in the error's list); ``left_out`` maps the
    tools the profile leaves out to the error a call to one gets."""

    async def guard(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await _guarded(ctx, call_next)
        except MCPError as exc:  # a protocol error (e.g. an unknown resource URI) quotes the request too
            message, data = shorten_error(exc.message), _short_data(exc.data)
            if message == exc.message and data == exc.data:
                raise
            raise MCPError(code=exc.code, message=message, data=data) from exc

    async def _guarded(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call" or ctx.params is None:
            return await call_next(ctx)
        name, given = ctx.params.get("name"), ctx.params.get("arguments")
        if isinstance(name, str) and left_out and name in left_out:
            return CallToolResult(content=[TextContent(type="text", text=left_out[name])], is_error=True)
        takes = arguments.get(name) if isinstance(name, str) else None
        if takes is not None and isinstance(given, Mapping):
            unknown = sorted(str(key) for key, value in given.items() if key not in takes and value is not None)
            if unknown:
                offered = [arg for arg in takes if arg not in hidden]
                text = shorten_error(unknown_arguments_error(str(name), unknown, offered))
                return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        result = await call_next(ctx)
        return _shortened(result)

    return guard


def _short_data(data: Any) -> Any:
    if isinstance(data, str):
        return shorten_error(data)
    if isinstance(data, dict):
        return {key: shorten_error(value) if isinstance(value, str) else value for key, value in data.items()}
    return data


def _shortened(result: HandlerResult) -> HandlerResult:
    """An error result with each text block shortened; anything else unchanged."""
    if isinstance(result, dict):
        if not result.get("isError") or not isinstance(result.get("content"), list):
            return result
        blocks = [_short_block(b) for b in result["content"]]
        return {**result, "content": blocks}
    is_error = getattr(result, "is_error", False)
    content = getattr(result, "content", None)
    if is_error and isinstance(content, list) and hasattr(result, "model_copy"):
        blocks = [_short_block(b) for b in content]
        return result.model_copy(update={"content": blocks})  # type: ignore[union-attr]
    return result


def _short_block(block: Any) -> Any:
    if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
        return {**block, "text": shorten_error(readable_validation_error(block["text"]))}
    text = getattr(block, "text", None)
    if getattr(block, "type", None) == "text" and isinstance(text, str) and hasattr(block, "model_copy"):
        return block.model_copy(update={"text": shorten_error(readable_validation_error(text))})
    return block
