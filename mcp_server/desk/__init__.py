"""The review desk: a local web page over the same state as the MCP tools.

``app`` assembles the Starlette app (auth, CSRF, routes); one module per page — ``proposals``,
``reviews``, ``ops``, ``standards`` — each a few thin handlers calling the same domain services
the tools call; ``web`` holds the shared request/response helpers (templates, Markdown, CSRF,
session cookies); ``charts`` renders SVG on the server. Templates and the stylesheet are
package data: nothing is loaded from the network, and there is no build step.
"""
