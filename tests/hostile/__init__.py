"""Hostile input suite: what a user, a confused assistant or a misbehaving model can send, through
the real MCP client where a user would send it. The guarantees under test are the README's
"Security" section.

Every case asserts a clear, actionable error (or a safe, clamped answer) and that nothing was lost,
leaked or changed: no file outside the project or standards folders is read, no job or proposal is
created, deleted or altered by a refused call, and the server keeps serving.

- ``test_paths``: ``..``, encoded traversal, absolute paths and symlink escapes in the standards
  resources, in the persona run's read_file/list_files (as the model's tool calls) and in invoke context;
- ``test_requests``: unknown ids in every id-taking tool, reset without confirm, empty and whitespace
  tasks, queries and feedback, oversized context, absurd limits and timeouts;
- ``test_files``: binary, huge, non-UTF-8 and FIFO standards files and malformed front matter dropped in
  while the server runs, malformed persona files;
- ``test_secrets``: a model proposing a standard that holds secrets.

Unit-level cases of the same rules live in ``tests/personas/test_sandbox.py``,
``tests/proposals/test_approval.py`` and ``tests/standards/test_index.py``.
"""
