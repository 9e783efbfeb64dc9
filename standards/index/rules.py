"""Rule files teams already keep for AI assistants, as a read-only standards source ("rules").

Found in the project root: ``AGENTS.md``, ``CLAUDE.md``, ``.cursorrules``,
``.github/copilot-instructions.md``, ``.cursor/rules/**/*.mdc`` (front matter ``description``,
``globs``, ``alwaysApply``), ``.github/instructions/**/*.instructions.md`` (front matter
``applyTo``), and ``AGENTS.md`` in sub-folders, each governing its own folder.

Cursor writes ``globs: **/*.ts, src/**`` unquoted, which is not valid YAML (``*`` starts an
alias), so ``.mdc`` front matter that YAML refuses is read again as plain ``key: value`` lines.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from wcmatch import glob

from standards.frontmatter import parse as parse_front_matter
from standards.index.scope import GLOB_FLAGS, folder_scope, normalize_globs

log = logging.getLogger(__name__)

GENERAL = "general"
ROOT_RULE_FILES = ("AGENTS.md", "CLAUDE.md", ".cursorrules", ".github/copilot-instructions.md")
NESTED_RULE_FILE = "AGENTS.md"
CURSOR_RULES_DIR = ".cursor/rules"
COPILOT_INSTRUCTIONS_DIR = ".github/instructions"
#: Folders never searched for nested AGENTS.md (besides hidden ones).
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "env", "dist", "build", "target", "vendor"})
#: Folders visited when looking for nested AGENTS.md (a bound for huge trees).
MAX_WALK_DIRS = 20_000
#: Extensions a rule file's symlink may point to (besides another rule file).
RULE_TARGET_SUFFIXES = frozenset({".md", ".mdc", ".markdown", ".txt"})
_SIMPLE_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


class RuleFileError(ValueError):
    """A rule file's front matter cannot be read (the file is skipped)."""


def is_rule_file(rel: str) -> bool:
    """Is this project-relative path one of the rule files this source indexes?"""
    path = PurePosixPath(rel)
    if rel in ROOT_RULE_FILES:
        return True
    if rel.startswith(CURSOR_RULES_DIR + "/") and path.suffix == ".mdc":
        return True
    if rel.startswith(COPILOT_INSTRUCTIONS_DIR + "/") and path.name.endswith(".instructions.md"):
        return True
    return path.name == NESTED_RULE_FILE and not _skipped(path.parts[:-1])


def is_rule_target(rel: str) -> bool:
    """May a rule file's real path (project-relative, after following symlinks) be read? Only a rule
    file, or a Markdown or text file outside hidden folders: a rule file symlinked to ``.env``, a key
    or ``.git/config`` would put that file's secrets in the index and in front of the model."""
    path = PurePosixPath(rel)
    if is_rule_file(rel):
        return True
    hidden = any(part.startswith(".") for part in path.parts[:-1]) or path.name.startswith(".")
    return not hidden and path.suffix.lower() in RULE_TARGET_SUFFIXES


def _skipped(folders: tuple[str, ...]) -> bool:
    return any(part.startswith(".") or part in SKIPPED_DIRS for part in folders)


def discover_rules(root: Path) -> list[str]:
    """Project-relative paths of every rule file under ``root`` (sorted; symlinked folders not followed)."""
    found: list[str] = [rel for rel in ROOT_RULE_FILES if os.path.lexists(root / rel)]
    for folder, suffix in ((CURSOR_RULES_DIR, ".mdc"), (COPILOT_INSTRUCTIONS_DIR, ".instructions.md")):
        top = root / folder
        if not top.is_dir() or top.is_symlink():
            continue
        for visited, (dirpath, dirnames, filenames) in enumerate(os.walk(top), start=1):
            if visited > MAX_WALK_DIRS:
                log.warning(
                    "rule files: stopped after %d folders under %s; move other files out of it", MAX_WALK_DIRS, top
                )
                break
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found.extend(
                (Path(dirpath) / name).relative_to(root).as_posix()
                for name in sorted(filenames)
                if name.endswith(suffix)
            )
    found.extend(_nested_agents(root))
    return sorted(dict.fromkeys(found))


def _nested_agents(root: Path) -> list[str]:
    found: list[str] = []
    for visited, (dirpath, dirnames, filenames) in enumerate(os.walk(root), start=1):
        if visited > MAX_WALK_DIRS:
            log.warning(
                "rule files: stopped looking for nested AGENTS.md after %d folders under %s", MAX_WALK_DIRS, root
            )
            break
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
        if dirpath != str(root) and NESTED_RULE_FILE in filenames:
            found.append((Path(dirpath) / NESTED_RULE_FILE).relative_to(root).as_posix())
    return found


def split_rule_front_matter(rel: str, text: str) -> tuple[dict[str, Any], str]:
    """Front matter and body of a rule file. Raises :class:`RuleFileError` when it is malformed."""
    parsed = parse_front_matter(text)
    meta, body, warning = parsed.meta, parsed.body, parsed.error
    if warning is None:
        return meta, body
    if rel.endswith(".mdc"):
        lenient = _simple_front_matter(text)
        if lenient is not None:
            return lenient
    raise RuleFileError(warning.replace(" ignored", ""))


def _simple_front_matter(text: str) -> tuple[dict[str, Any], str] | None:
    """Cursor's ``key: value`` lines (values unquoted, globs comma-separated); None if not of that form."""
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    meta: dict[str, Any] = {}
    for i in range(1, len(lines)):
        line = lines[i].strip()
        if line in ("---", "..."):
            return meta, "".join(lines[i + 1 :])
        if not line or line.startswith("#"):
            continue
        match = _SIMPLE_LINE.match(line)
        if match is None:
            return None
        key, value = match.group(1), match.group(2).strip().strip("'\"")
        lowered = value.lower()
        meta[key] = True if lowered == "true" else False if lowered == "false" else value
    return None


def rule_scope(rel: str, meta: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(globs the rule governs, warnings); [] = the whole project."""
    path = PurePosixPath(rel)
    if rel.endswith(".mdc"):
        if meta.get("alwaysApply") is True:
            return [], []
        return normalize_globs(meta.get("globs"))
    if path.name.endswith(".instructions.md"):
        return normalize_globs(meta.get("applyTo"))
    if path.name == NESTED_RULE_FILE and len(path.parts) > 1:
        return folder_scope(path.parent.as_posix()), []
    return [], []


def rule_domain(rel: str, meta: dict[str, Any], mapping: dict[str, str]) -> str:
    """Domain of a rule file: the first mapping glob matching its path, else its front matter
    ``domain``, else 'general'."""
    for pattern, domain in mapping.items():
        if glob.globmatch(rel, pattern, flags=GLOB_FLAGS):
            return domain
    declared = meta.get("domain")
    if isinstance(declared, str) and re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", declared.strip()):
        return declared.strip()
    return GENERAL


def rule_title(rel: str, meta: dict[str, Any]) -> str:
    """A title when the file has no H1: the description, else the file name."""
    description = meta.get("description")
    if isinstance(description, str) and description.strip():
        return description.strip()[:120]
    name = PurePosixPath(rel).name
    for suffix in (".instructions.md", ".mdc", ".md"):
        name = name.removesuffix(suffix)
    return name.lstrip(".") or rel
