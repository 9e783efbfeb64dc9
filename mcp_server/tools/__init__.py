"""MCP tools: thin wrappers that validate, call one domain function and shape the reply."""
