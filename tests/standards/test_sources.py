"""Standards where teams keep them: rule files, path scopes, shared org folders and precedence."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from standards import IndexConfig, IndexWriter, StandardsSource
from standards.index.rules import discover_rules, split_rule_front_matter
from standards.index.scope import normalize_globs, path_matches, validate_paths
from tests.standards.conftest import ChangeWaiter, IndexFactory, write

# Real formats, as the tools document them (Cursor .mdc: description/globs/alwaysApply with unquoted
# comma-separated globs; Copilot: applyTo; copilot-instructions.md and AGENTS.md: plain Markdown).
AGENTS_MD = """# Project guide

## Commits

Write commit messages in the imperative mood and keep the subject under fifty characters.
"""
CLAUDE_MD = """# Claude notes

## Build

Run make check before every push; it runs the linters and the unit tests.
"""
CURSORRULES = """Always prefer composition over inheritance in the domain model.
"""
API_MDC = """---
description: REST API conventions for the api package
globs: api/**, **/*_api.py
alwaysApply: false
---
# API rules

## Pagination

Every list endpoint paginates with an opaque cursor and returns next_cursor.
"""
STYLE_MDC = """---
description: House style everywhere
globs:
alwaysApply: true
---
# House style

Prefer explicit names over abbreviations in every module.
"""
COPILOT_MD = """# Copilot instructions

Use the repository's logging helper instead of print statements.
"""
PY_INSTRUCTIONS = """---
applyTo: "web/**/*.ts,web/**/*.tsx"
---
# Frontend instructions

## Components

Components are function components with typed props; no class components.
"""
NESTED_AGENTS = """# Billing folder

## Money

Amounts are integers in minor units (cents); never floats for money.
"""


def rules_project(root: Path) -> Path:
    write(root / "AGENTS.md", AGENTS_MD)
    write(root / "CLAUDE.md", CLAUDE_MD)
    write(root / ".cursorrules", CURSORRULES)
    write(root / ".cursor" / "rules" / "api.mdc", API_MDC)
    write(root / ".cursor" / "rules" / "style.mdc", STYLE_MDC)
    write(root / ".github" / "copilot-instructions.md", COPILOT_MD)
    write(root / ".github" / "instructions" / "frontend.instructions.md", PY_INSTRUCTIONS)
    write(root / "billing" / "AGENTS.md", NESTED_AGENTS)
    write(root / "node_modules" / "pkg" / "AGENTS.md", "# Vendored\n\nNot ours.\n")
    write(root / "api" / "users.py", "def list_users(): ...\n")
    return root


def rules_config(
    tmp_path: Path, project: Path, *extra: StandardsSource, domains: dict[str, str] | None = None
) -> IndexConfig:
    return IndexConfig(
        sources=[*extra, StandardsSource(root=project, kind="rules", domains=domains or {})],
        index_dir=tmp_path / "index",
        debounce_seconds=0.05,
    )


async def started(make_index: IndexFactory, config: IndexConfig, *, watch: bool = False) -> IndexWriter:
    index: IndexWriter = make_index(config)
    await index.start(watch=watch)
    assert (await index.wait_ready(timeout=30)).state == "ready"
    await index._wait_idle()
    return index


def test_discovery_finds_every_rule_file_kind(tmp_path: Path) -> None:
    project = rules_project(tmp_path / "proj")
    assert discover_rules(project) == [
        ".cursor/rules/api.mdc",
        ".cursor/rules/style.mdc",
        ".cursorrules",
        ".github/copilot-instructions.md",
        ".github/instructions/frontend.instructions.md",
        "AGENTS.md",
        "CLAUDE.md",
        "billing/AGENTS.md",
    ]


def test_cursor_front_matter_with_unquoted_globs_is_read() -> None:
    meta, body = split_rule_front_matter(".cursor/rules/api.mdc", API_MDC)
    assert meta == {
        "description": "REST API conventions for the api package",
        "globs": "api/**, **/*_api.py",
        "alwaysApply": False,
    }
    assert body.startswith("# API rules")
    assert normalize_globs(meta["globs"]) == (["api/**", "**/*_api.py"], [])
    # Brace alternatives inside one comma-separated glob stay whole.
    assert normalize_globs("src/**/*.{ts,tsx}, api/**") == (["src/**/*.{ts,tsx}", "api/**"], [])


def test_globs_match_like_the_tools() -> None:
    assert path_matches(["api/**"], "api/users.py")
    assert path_matches(["api/**"], "api/v1/users.py")
    assert not path_matches(["api/**"], "web/app.ts")
    assert path_matches(["*.py"], "deep/down/x.py")  # no '/': file name at any depth
    assert path_matches(["web/**/*.{ts,tsx}"], "web/a/b.tsx")
    assert normalize_globs("**") == ([], [])  # applyTo: '**' = everywhere
    assert normalize_globs(["/etc/**", "../x", "ok/**"])[0] == ["ok/**"]
    with pytest.raises(ValueError, match="relative"):
        validate_paths(["/abs/path.py"])


async def test_rule_files_are_indexed_read_only_with_scope_and_domain(tmp_path: Path, make_index: IndexFactory) -> None:
    project = rules_project(tmp_path / "proj")
    config = rules_config(tmp_path, project, domains={".cursor/rules/api.mdc": "architecture"})
    index = await started(make_index, config)
    files = {f.file: f for f in await index.list_files()}
    assert set(files) == set(discover_rules(project))
    assert {f.source for f in files.values()} == {"rules"}
    assert files[".cursor/rules/api.mdc"].paths == ["api/**", "**/*_api.py"]
    assert files[".cursor/rules/api.mdc"].domain == "architecture"  # configured mapping
    assert files[".cursor/rules/style.mdc"].paths == []  # alwaysApply: true
    assert files[".github/instructions/frontend.instructions.md"].paths == ["web/**/*.ts", "web/**/*.tsx"]
    assert files["billing/AGENTS.md"].paths == ["billing/**"]
    assert files["AGENTS.md"].paths == [] and files["AGENTS.md"].domain == "general"
    hit = (await index.search("list endpoint pagination cursor", limit=1, paths=["api/users.py"])).results[0]
    assert (hit.file, hit.heading_path[-1], hit.source) == (".cursor/rules/api.mdc", "Pagination", "rules")
    assert (await index.read_file(".cursor/rules/api.mdc", "rules")).startswith("---\ndescription: REST API")
    with pytest.raises(ValueError, match="not a rule file"):
        await index.read_file("api/users.py", "rules")  # the rules source only serves rule files


async def test_scoped_search_with_and_without_paths(tmp_path: Path, make_index: IndexFactory) -> None:
    project = rules_project(tmp_path / "proj")
    index = await started(make_index, rules_config(tmp_path, project))
    query = "integers cents money pagination cursor components typed props"

    async def files(paths: list[str] | None) -> list[str]:
        return [h.file for h in (await index.search(query, limit=20, paths=paths)).results]

    everything = await files(None)  # no paths: scoped rules behave like any standard
    assert {".cursor/rules/api.mdc", "billing/AGENTS.md", ".github/instructions/frontend.instructions.md"} <= set(
        everything
    )
    api = await files(["api/users.py"])
    assert api[0] == ".cursor/rules/api.mdc"  # scoped to the given path: ranked first
    assert "billing/AGENTS.md" not in api and ".github/instructions/frontend.instructions.md" not in api
    assert "AGENTS.md" in api and ".cursor/rules/style.mdc" in api  # unscoped: as today
    billing = await files(["billing/invoice.py"])
    assert billing[0] == "billing/AGENTS.md" and ".cursor/rules/api.mdc" not in billing
    web = await files(["web/src/App.tsx", "billing/x.py"])
    assert set(web[:2]) == {".github/instructions/frontend.instructions.md", "billing/AGENTS.md"}
    reader = make_index(rules_config(tmp_path, project), writer=False)  # a worker's read-only view
    await reader.start(watch=False)
    assert (await reader.wait_ready(timeout=30)).state == "ready"
    from_reader = [h.file for h in (await reader.search(query, limit=20, paths=["api/users.py"])).results]
    assert from_reader == api


async def test_own_standard_with_paths_front_matter(tmp_path: Path, make_index: IndexFactory) -> None:
    standards = tmp_path / "standards"
    write(
        standards / "data" / "migrations.md",
        "---\npaths: [db/migrations/**]\n---\n# Migrations\n\n## Rule\n\nEvery migration is reversible.\n",
    )
    write(standards / "data" / "general.md", "# Data\n\n## Rule\n\nEvery migration is reviewed by the data team.\n")
    config = IndexConfig(sources=[StandardsSource(root=standards, kind="project")], index_dir=tmp_path / "index")
    index = await started(make_index, config)
    scoped = await index.search("migration reversible", paths=["db/migrations/0001_init.py"])
    assert scoped.results[0].file == "data/migrations.md"
    assert scoped.results[0].paths == ["db/migrations/**"]
    other = await index.search("migration reversible", paths=["api/users.py"])
    assert [h.file for h in other.results] == ["data/general.md"]


async def test_shared_overrides_universal_and_project_overrides_shared(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    text = "# Secrets\n\n## The rule\n\nSecrets live in the {where} and rotate every {days} days.\n"
    project, shared, universal = tmp_path / "project", tmp_path / "org", tmp_path / "universal"
    write(universal / "security" / "secrets.md", text.format(where="vault", days=90))
    write(universal / "security" / "tls.md", "# TLS\n\n## The rule\n\nTLS 1.2 or newer for every secrets transport.\n")
    write(shared / "security" / "secrets.md", text.format(where="org vault", days=30))
    write(shared / "security" / "tls.md", "# TLS\n\n## The rule\n\nTLS 1.3 only, secrets transport included.\n")
    write(project / "security" / "secrets.md", text.format(where="project vault", days=7))
    config = IndexConfig(
        sources=[
            StandardsSource(root=project, kind="project"),
            StandardsSource(root=shared, kind="shared"),
            StandardsSource(root=universal, kind="universal"),
        ],
        index_dir=tmp_path / "index",
    )
    index = await started(make_index, config)
    hits = (await index.search("secrets rotate vault days", limit=10)).results
    by_file = {(h.source, h.file): h for h in hits}
    assert set(by_file) == {("project", "security/secrets.md"), ("shared", "security/tls.md")}
    assert by_file["project", "security/secrets.md"].overrides == [
        "shared:security/secrets.md",
        "universal:security/secrets.md",
    ]
    assert by_file["shared", "security/tls.md"].overrides == ["universal:security/tls.md"]
    assert "7 days" in by_file["project", "security/secrets.md"].text
    listed = {(f.source, f.file): f.overridden_by for f in await index.list_files()}
    assert listed["universal", "security/tls.md"] == "shared:security/tls.md"
    assert listed["shared", "security/secrets.md"] == "project:security/secrets.md"
    assert listed["project", "security/secrets.md"] is None
    assert "7 days" in await index.read_file("security/secrets.md")  # precedence for reads by name too
    assert "30 days" in await index.read_file("security/secrets.md", "shared")


async def test_first_shared_folder_wins_and_the_next_takes_over(tmp_path: Path, make_index: IndexFactory) -> None:
    first, second = tmp_path / "org1", tmp_path / "org2"
    write(first / "ops" / "deploy.md", "# Deploy\n\nDeploys are blue green with alpha canaries.\n")
    write(second / "ops" / "deploy.md", "# Deploy\n\nDeploys are rolling with beta canaries.\n")
    config = IndexConfig(
        sources=[StandardsSource(root=first, kind="shared"), StandardsSource(root=second, kind="shared")],
        index_dir=tmp_path / "index",
    )
    index = await started(make_index, config)
    assert "alpha" in (await index.search("deploys canaries")).results[0].text
    (first / "ops" / "deploy.md").unlink()
    await index.reindex_paths([first / "ops" / "deploy.md"])
    assert "beta" in (await index.search("deploys canaries")).results[0].text


async def test_bad_rule_files_are_skipped_with_a_warning_naming_them(
    tmp_path: Path, make_index: IndexFactory, caplog: pytest.LogCaptureFixture
) -> None:
    project = tmp_path / "proj"
    write(project / "AGENTS.md", AGENTS_MD)
    write(project / "CLAUDE.md", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    write(project / ".cursorrules", "x" * 5000)
    outside = write(tmp_path / "outside" / "secret.mdc", "---\nglobs: '**'\n---\n# Stolen\n\nsecret text\n")
    (project / ".cursor" / "rules").mkdir(parents=True)
    os.symlink(outside, project / ".cursor" / "rules" / "link.mdc")
    write(project / ".github" / "instructions" / "bad.instructions.md", "---\napplyTo: [unclosed\n---\n# Bad\n\nbody\n")
    write(project / ".cursor" / "rules" / "open.mdc", "---\nglobs: api/**\n# never closed\n\ntext\n")
    config = rules_config(tmp_path, project).model_copy(update={"max_file_bytes": 4000})
    with caplog.at_level(logging.WARNING):
        index = await started(make_index, config)
    assert [f.file for f in await index.list_files()] == ["AGENTS.md"]
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    for name, why in [
        ("CLAUDE.md", "binary"),
        (".cursorrules", "larger than"),
        ("link.mdc", "outside"),
        ("bad.instructions.md", "malformed front matter"),
        ("open.mdc", "no closing"),
    ]:
        line = next((ln for ln in warnings.splitlines() if name in ln), "")
        assert why in line, f"no warning naming {name} ({why}):\n{warnings}"


async def test_rule_file_edits_are_picked_up_by_the_watcher(tmp_path: Path, make_index: IndexFactory) -> None:
    project = tmp_path / "proj"
    write(project / "AGENTS.md", AGENTS_MD)
    write(project / "billing" / "AGENTS.md", NESTED_AGENTS)
    index = await started(make_index, rules_config(tmp_path, project), watch=True)
    waiter = ChangeWaiter(index)

    async def texts() -> str:
        return " ".join(h.text for h in (await index.search("zebra quokka", limit=20)).results)

    write(project / "AGENTS.md", AGENTS_MD + "\n## Animals\n\nThe zebra rule applies.\n")
    await waiter.wait_for(lambda: _contains(texts(), "zebra"))
    write(project / ".cursor" / "rules" / "new.mdc", "---\nglobs: api/**\n---\n# New\n\nThe quokka rule.\n")
    await waiter.wait_for(lambda: _contains(texts(), "quokka"))
    write(project / "billing" / "AGENTS.md", NESTED_AGENTS + "\n## Pets\n\nNo ocelot money.\n")
    await waiter.wait_for(lambda: _contains(index.search("ocelot", limit=20, paths=["billing/a.py"]), "ocelot"))
    (project / ".cursor" / "rules" / "new.mdc").unlink()
    await waiter.wait_for(lambda: _lacks(texts(), "quokka"))
    write(project / "orders" / "AGENTS.md", "# Orders\n\nThe wombat rule.\n")  # a new folder, then its edit
    await waiter.wait_for(lambda: _contains(index.search("wombat", limit=20, paths=["orders/a.py"]), "wombat"))
    write(project / "orders" / "AGENTS.md", "# Orders\n\nThe numbat rule.\n")
    await waiter.wait_for(lambda: _contains(index.search("numbat", limit=20, paths=["orders/a.py"]), "numbat"))


async def _contains(result: object, word: str) -> bool:
    value = await result  # type: ignore[misc]
    text = value if isinstance(value, str) else " ".join(h.text for h in value.results)
    return word in text


async def _lacks(result: object, word: str) -> bool:
    return not await _contains(result, word)


async def test_search_command_takes_paths(tmp_path: Path) -> None:
    import io

    from standards import HashingEmbedder
    from standards.index.commands import search_command

    project = rules_project(tmp_path / "proj")
    out = io.StringIO()
    code = await search_command(
        rules_config(tmp_path, project),
        "list endpoint pagination cursor",
        domain=None,
        limit=3,
        as_json=False,
        out=out,
        embedder=HashingEmbedder(),
        paths=["api/users.py"],
    )
    assert code == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("1. [") and lines[0].endswith("rules/.cursor/rules/api.mdc — API rules > Pagination")
    assert lines[1] == "   (governs api/**, **/*_api.py)"


def test_source_view_scoping_is_remembered_within_a_bound() -> None:
    from standards.index.scope import SCOPE_CACHE, DocScope, SourceView

    view = SourceView.build(
        [
            DocScope("rules:api.mdc", "rules", ".cursor/rules/api.mdc", ("api/**",)),
            DocScope("rules:web.md", "rules", "web.instructions.md", ("web/**", "*.tsx")),
            DocScope("project:security/a.md", "project", "security/a.md"),
            DocScope("universal:security/a.md", "universal", "security/a.md"),
        ]
    )
    assert view.excluded(()) == ["universal:security/a.md"]
    for _ in range(2):  # the second answer comes from the cache and is the same
        assert view.matching(("api/x.py", "ui/App.tsx")) == {"rules:api.mdc", "rules:web.md"}
        assert view.excluded(("api/x.py",)) == ["rules:web.md", "universal:security/a.md"]
    for i in range(SCOPE_CACHE + 10):
        view.matching((f"f{i}.py",))
    assert len(view._governing) == SCOPE_CACHE


def test_scoped_hits_move_up_but_take_at_most_half_the_places() -> None:
    from standards.index.models import SearchHit
    from standards.index.search import apply_path_scope

    def hit(file: str, i: int) -> tuple[str, SearchHit]:
        doc = f"rules:{file}"
        return doc, SearchHit(
            file=file, heading_path=[str(i)], domain="general", source="rules", score=1 - i / 100, text="t", tags=[]
        )

    ranked = [hit("other.md", 0), hit("other.md", 1), *(hit("api.mdc", i) for i in range(2, 8)), hit("x.md", 8)]
    out = apply_path_scope(ranked, {"rules:api.mdc"}, {"rules:x.md": ["universal:x.md"]}, limit=5)
    assert [(h.file, h.heading_path[0]) for _, h in out] == [
        ("api.mdc", "2"),
        ("api.mdc", "3"),
        ("api.mdc", "4"),
        ("other.md", "0"),
        ("other.md", "1"),
    ]
    assert apply_path_scope(ranked, set(), {"rules:x.md": ["universal:x.md"]}, limit=9)[-1][1].overrides == [
        "universal:x.md"
    ]


async def test_a_rule_file_symlinked_to_a_secret_inside_the_project_is_not_indexed_or_served(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    project = tmp_path / "proj"
    write(project / "AGENTS.md", AGENTS_MD)
    write(project / ".env", "DB_PASSWORD=sk-live-symlinked-secret\n")
    write(project / "docs" / "guidelines.md", "# Guidelines\n\nKeep functions short.\n")
    os.symlink(".env", project / "CLAUDE.md")  # a hostile checkout: CLAUDE.md -> the developer's .env
    (project / ".cursor" / "rules").mkdir(parents=True)
    os.symlink("../../docs/guidelines.md", project / ".cursor" / "rules" / "g.mdc")  # a real rule: still read
    index = await started(make_index, rules_config(tmp_path, project))

    assert sorted(f.file for f in await index.list_files()) == [".cursor/rules/g.mdc", "AGENTS.md"]
    assert await _lacks(index.search("DB_PASSWORD sk-live-symlinked-secret", limit=20), "sk-live")
    with pytest.raises(ValueError, match="not a rule file"):
        await index.read_file("CLAUDE.md", "rules")
    assert "Keep functions short" in await index.read_file(".cursor/rules/g.mdc", "rules")


async def test_a_scope_with_no_usable_glob_skips_the_file_instead_of_applying_it_everywhere(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    project = tmp_path / "proj"
    write(project / "AGENTS.md", AGENTS_MD)
    write(
        project / ".cursor" / "rules" / "long.mdc",
        '---\nglobs: "' + "**/" * 200 + '*.py"\n---\n# Long\n\nWombat rule.\n',
    )
    write(
        project / ".github" / "instructions" / "up.instructions.md",
        "---\napplyTo: '../**'\n---\n# Up\n\nQuokka rule.\n",
    )
    write(project / ".cursor" / "rules" / "ok.mdc", "---\nglobs: ['/etc/**', 'api/**']\n---\n# Ok\n\nNumbat rule.\n")
    index = await started(make_index, rules_config(tmp_path, project))

    by_file = {f.file: f.paths for f in await index.list_files()}
    assert by_file == {"AGENTS.md": [], ".cursor/rules/ok.mdc": ["api/**"]}
    assert await _lacks(index.search("wombat rule", limit=20, paths=["web/app.ts"]), "Wombat")
    assert await _lacks(index.search("quokka rule", limit=20), "Quokka")
    with pytest.raises(ValueError, match="no usable glob"):
        normalize_globs(["/etc/**", "../x"])


async def test_a_shared_standard_symlinked_to_the_checkouts_git_config_or_env_is_not_indexed(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    # A hostile standards repo commits security/leak.md -> ../.git/config (git stores symlinks): the
    # checkout's config holds the clone's credentials (a token in the remote URL, CI's extraheader).
    shared = tmp_path / "org"
    write(shared / ".git" / "config", '[remote "origin"]\n\turl = https://x:ghp_sharedcheckouttoken@github.com/o/s\n')
    write(shared / ".env", "DB_PASSWORD=sk-live-beside-the-standards\n")
    write(shared / "security" / "tls.md", "# TLS\n\n## The rule\n\nTLS 1.3 only.\n")
    os.symlink("../.git/config", shared / "security" / "leak.md")
    os.symlink("../.env", shared / "security" / "env.md")
    config = IndexConfig(
        sources=[StandardsSource(root=shared, kind="shared")], index_dir=tmp_path / "index", debounce_seconds=0.05
    )
    index = await started(make_index, config)

    assert [f.file for f in await index.list_files()] == ["security/tls.md"]
    assert await _lacks(index.search("remote origin url github ghp_sharedcheckouttoken", limit=20), "ghp_")
    assert await _lacks(index.search("DB_PASSWORD sk-live-beside-the-standards", limit=20), "sk-live")
