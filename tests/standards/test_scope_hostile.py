"""A standard whose path scope expands past the glob matcher's limit ('{a,b}' eleven times is 2,048
patterns): scoped searches must keep working for every other standard, not fail as a whole."""

from __future__ import annotations

from pathlib import Path

from standards import IndexConfig, StandardsSource
from tests.standards.conftest import IndexFactory, write
from tests.standards.test_sources import started

BOMB = "src/" + "{a,b}" * 11 + "/*.py"


async def test_a_scope_past_the_expansion_limit_does_not_break_scoped_search(
    tmp_path: Path, make_index: IndexFactory
) -> None:
    standards = tmp_path / "standards"
    write(standards / "data" / "bomb.md", f"---\npaths: ['{BOMB}']\n---\n# Bomb\n\n## Rule\n\nMigrations bomb.\n")
    write(
        standards / "data" / "migrations.md",
        "---\npaths: [db/migrations/**]\n---\n# Migrations\n\n## Rule\n\nEvery migration is reversible.\n",
    )
    config = IndexConfig(sources=[StandardsSource(root=standards, kind="project")], index_dir=tmp_path / "index")
    index = await started(make_index, config)

    scoped = await index.search("migration reversible", paths=["db/migrations/0001_init.py"])

    assert scoped.results[0].file == "data/migrations.md"


def test_globs_that_pass_alone_but_not_together_are_cut_with_a_warning() -> None:
    from standards.index.scope import normalize_globs, path_matches

    globs, warnings = normalize_globs([f"src{i}/" + "{a,b}" * 9 for i in range(3)])  # 512 patterns each
    assert len(globs) == 1 and len(warnings) == 2 and "fewer brace alternatives" in warnings[0]
    assert path_matches(tuple(globs), "src0/aaaaaaaaa")


def test_a_scope_already_in_an_index_from_before_the_bound_still_matches() -> None:
    """An index built before the bound keeps the scope (its file's hash is unchanged, so it is not
    re-read): matching uses the globs that compile instead of failing every scoped search."""
    from standards.index.scope import path_matches

    assert path_matches((BOMB, "db/**"), "db/migrations/0001.py")
    assert not path_matches((BOMB,), "db/migrations/0001.py")
