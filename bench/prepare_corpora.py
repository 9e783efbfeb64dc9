"""Write the evaluation corpora's texts from git checkouts of their pinned commits.

    python -m bench.prepare_corpora NAME=GIT_DIR [NAME=GIT_DIR ...] [--dest DIR]

``GIT_DIR`` is a clone of the repository named in ``bench/data/corpora/NAME/corpus.json`` (a work
tree or a bare git directory) that contains the pinned commit. The files the manifest includes are
read at that commit (``git show``), converted as it says, and written to ``DIR/NAME`` (default:
``$PERSONAS_BENCH_CORPORA`` or ``~/.cache/agent-personas/bench-corpora``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.corpora import DATA, adoc_to_markdown, corpora_dir, erb_page_to_markdown


def git(git_dir: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(git_dir), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed in {git_dir}: {result.stderr.strip()}")
    return result.stdout


def prepare(name: str, git_dir: Path, dest: Path) -> int:
    manifest_path = DATA / "corpora" / name / "corpus.json"
    if not manifest_path.is_file():
        raise SystemExit(f"unknown corpus {name!r}: no {manifest_path}")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    commit = manifest["commit"]
    paths = [
        p
        for p in git(git_dir, "ls-tree", "-r", "--name-only", commit).splitlines()
        if any(fnmatch.fnmatch(p, pat) for pat in manifest["include"]) and p not in manifest["exclude"]
    ]
    target = dest / name
    if target.exists():
        shutil.rmtree(target)
    strip = manifest.get("strip_prefix", "")
    for path in paths:
        text = git(git_dir, "show", f"{commit}:{path}")
        rel = path.removeprefix(strip)
        if rel.endswith(".adoc"):
            text, rel = adoc_to_markdown(text), rel.removesuffix(".adoc") + ".md"
        elif rel.endswith(".html.md.erb"):
            text, rel = erb_page_to_markdown(text), rel.removesuffix(".html.md.erb") + ".md"
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    (target / "SOURCE.txt").write_text(
        f"{manifest['corpus']} {manifest['url']}@{commit}\nLicense: {manifest['license']}\n", encoding="utf-8"
    )
    return len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", help="NAME=GIT_DIR")
    parser.add_argument("--dest", type=Path, default=None)
    args = parser.parse_args()
    dest = args.dest or corpora_dir()
    for item in args.sources:
        name, _, git_dir = item.partition("=")
        if not git_dir:
            raise SystemExit(f"expected NAME=GIT_DIR, got {item!r}")
        count = prepare(name, Path(git_dir), dest)
        sys.stderr.write(f"{name}: {count} files → {dest / name}\n")


if __name__ == "__main__":
    main()
