"""The pre-commit hook and the GitHub workflow example call `personas review` with arguments it accepts."""

from __future__ import annotations

import shlex

import yaml

from mcp_server.cli_parser import build_parser
from tests.conftest import REPO_ROOT


def test_the_pre_commit_hook_reviews_staged_changes_and_fails_on_high() -> None:
    (hook,) = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    argv = shlex.split(hook["entry"]) + hook["args"]
    assert argv[0] == "personas" and hook["pass_filenames"] is False
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.changes, args.fail_on, args.persona) == ("review", "staged", "high", "security,qa")


def test_the_workflow_reviews_the_pr_range_uploads_sarif_and_fails_on_high() -> None:
    workflow = yaml.safe_load((REPO_ROOT / "docs" / "examples" / "github-review.yml").read_text())
    steps = workflow["jobs"]["review"]["steps"]
    review = next(s for s in steps if "personas review" in s.get("run", ""))
    assert review["env"]["BASE_REF"] == "${{ github.base_ref }}" and "${{" not in review["run"]  # no script injection
    command = review["run"].replace("$BASE_REF", "main")
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.changes, args.format, args.fail_on) == ("origin/main...HEAD", "sarif", "high")
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    assert upload["with"]["sarif_file"] == str(args.output)
    assert review["env"]["ANTHROPIC_API_KEY"] == "${{ secrets.ANTHROPIC_API_KEY }}"
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    # not a bare PyPI name (the project is not published there: someone else's package could be)
    requirement = shlex.split(install["run"])[-1]
    assert requirement.startswith("agent-personas @ git+https://") and "@" in requirement.rsplit("/", 1)[-1]
