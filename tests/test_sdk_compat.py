"""The MCP SDK internals mcp_server/sdk_compat.py relies on: these fail if an SDK upgrade changes them."""

from __future__ import annotations

from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer

from mcp_server.sdk_compat import lowlevel, registered_tool_arguments, tools_deferred
from mcp_server.tools.trim import strip_keys, tidy_description


def test_tools_registered_while_deferred_are_recorded_in_order_and_added_only_when_asked() -> None:
    server: MCPServer = MCPServer(name="t")

    async def first(x: int) -> str:
        return "1"

    async def second() -> str:
        return "2"

    with tools_deferred(server) as tools:
        server.add_tool(first, description="the first")
        server.tool(name="renamed")(second)  # the decorator goes through add_tool too
    assert [tool.name for tool in tools] == ["first", "renamed"]
    assert registered_tool_arguments(server) == {}  # nothing built yet
    tools[1].add_to(server)
    assert registered_tool_arguments(server) == {"renamed": ()}
    tools[0].add_to(server)
    assert registered_tool_arguments(server) == {"renamed": (), "first": ("x",)}
    built = server._tool_manager.get_tool("first")
    assert built is not None and built.description == "the first"  # the options were kept
    server.add_tool(second)  # deferring has ended: add_tool builds at once
    assert "second" in registered_tool_arguments(server)


def test_registered_tool_arguments_are_the_parameters_in_order() -> None:
    server: MCPServer = MCPServer(name="t")

    async def tool(task: str, context: str | None = None, priority: str = "normal") -> str:
        return task

    server.add_tool(tool)
    assert registered_tool_arguments(server) == {"tool": ("task", "context", "priority")}


def test_lowlevel_is_the_server_that_holds_request_handlers() -> None:
    server: MCPServer = MCPServer(name="t")
    low = lowlevel(server)
    assert isinstance(low, Server)
    assert low.get_request_handler("tools/list") is not None
    assert low.middleware is server.middleware


def test_strip_keys_keeps_properties_named_like_annotations() -> None:
    schema = {
        "title": "Report",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string", "description": "x"},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "kind": {"enum": ["a", "b"], "default": "a", "type": "string"},
        },
        "required": ["title"],
    }
    assert strip_keys(schema, frozenset({"title", "description"})) == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "note": {"type": ["string", "null"]},
            "kind": {"enum": ["a", "b"], "default": "a"},
        },
        "required": ["title"],
    }


def test_tidy_description_joins_wrapped_lines_and_keeps_paragraphs() -> None:
    doc = "First line\n    goes on.\n\n    Second paragraph:\n    - item one\n    - item two\n    "
    assert tidy_description(doc) == "First line goes on.\n\nSecond paragraph:\n- item one\n- item two"
