"""bench.latency_bench's project filling: a kept project is grown or shrunk to each size."""

from __future__ import annotations

from pathlib import Path

from bench.latency_bench import CorpusFile, fill

FILES: list[CorpusFile] = [
    ("corp", Path("a.md"), "# A\n\nalpha\n", 3),
    ("corp", Path("sub/b.md"), "# B\n\nbeta\n", 2),
]


def _markdown(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.md")}


def test_fill_grows_with_renamed_copies(tmp_path: Path) -> None:
    assert fill(tmp_path, 8, FILES) == (8, 0)
    assert _markdown(tmp_path) == {"corp/a.md", "corp/sub/b.md", "corp-copy1/a.md"}
    assert (tmp_path / "corp-copy1" / "a.md").read_text(encoding="utf-8") == "# A\n\nalpha\n"


def test_a_smaller_size_after_a_larger_one_shrinks_the_project(tmp_path: Path) -> None:
    """A kept --project holding ~20k chunks measured 20k for --sizes 5000: fill never deleted."""
    assert fill(tmp_path, 20, FILES) == (20, 0)
    assert len(_markdown(tmp_path)) == 8
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.md").write_text("# Mine\n", encoding="utf-8")
    (tmp_path / "other-copy1").mkdir()
    (tmp_path / "other-copy1" / "x.md").write_text("# X\n", encoding="utf-8")

    assert fill(tmp_path, 8, FILES) == (8, 5)

    # the corpora, the one copy the size needs, and what fill did not make
    assert _markdown(tmp_path) == {"corp/a.md", "corp/sub/b.md", "corp-copy1/a.md", "notes/mine.md", "other-copy1/x.md"}
    assert not (tmp_path / "corp-copy1" / "sub").exists()
    assert not (tmp_path / "corp-copy2").exists()
    assert not (tmp_path / "corp-copy3").exists()
    assert fill(tmp_path, 8, FILES) == (8, 0)  # nothing more to delete
