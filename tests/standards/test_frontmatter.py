"""The one front-matter parser and tag normaliser (standards/frontmatter.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from personas.registry import PersonaFileError, load_persona_file
from standards import frontmatter
from standards.frontmatter import FrontMatterError, normalize_tag, normalize_tags, parse, split
from standards.index.chunker import chunk_markdown

# A classic "billion laughs": nine levels of nine aliases (387 million leaves once expanded).
ALIAS_BOMB = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [{','.join(['*' + chr(ord('a') + i)] * 9)}]\n" for i in range(8)
    )
    + "---\n# Body\n\ntext\n"
)


@pytest.fixture(autouse=True, params=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the C loader (PyYAML's wheels) and with the pure-Python fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(yaml, "__with_libyaml__", False)
    return str(request.param)


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused() -> None:
    def nested(levels: int) -> str:  # ``levels`` nodes deep: levels - 1 lists around one scalar, in a mapping
        return "---\nx: " + "[" * (levels - 2) + "1" + "]" * (levels - 2) + "\n---\nbody\n"

    meta, _ = split(nested(frontmatter.MAX_DEPTH))
    value = meta["x"]
    for _ in range(frontmatter.MAX_DEPTH - 3):
        value = value[0]
    assert value == [1]
    with pytest.raises(FrontMatterError, match="nested deeper than 20 levels"):
        split(nested(frontmatter.MAX_DEPTH + 1))


def test_both_loaders_read_every_shipped_file_alike() -> None:
    repo = Path(__file__).resolve().parents[2]
    files = [*(repo / "personas").glob("*.md"), *(repo / "standards" / "universal").rglob("*.md")]
    assert len(files) > 20
    for path in files:
        text = path.read_text(encoding="utf-8")
        fast = parse(text)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(yaml, "__with_libyaml__", False)
            assert parse(text) == fast, path


def test_unclosed_front_matter_is_body() -> None:
    front = parse("---\ntitle: x\n\nno closing fence\n")
    assert front.meta == {}
    assert "no closing" in (front.error or "")
    assert "no closing fence" in front.body


def test_no_front_matter() -> None:
    assert parse("# Title\n") == frontmatter.FrontMatter({}, "# Title\n", None)


def test_closed_front_matter_and_bom() -> None:
    front = parse("\ufeff---\ntitle: T\ntags: [a]\n...\nbody\n")
    assert front.meta == {"title": "T", "tags": ["a"]}
    assert front.body == "body\n"
    assert front.error is None


def test_alias_bomb_is_refused_without_expanding() -> None:
    # Runs in a thread with a deadline only so a regression fails instead of hanging the suite.
    result: list[frontmatter.FrontMatter] = []
    worker = threading.Thread(target=lambda: result.append(parse(ALIAS_BOMB)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert result, "parsing the alias bomb did not finish"
    front = result[0]
    assert front.meta == {}
    assert "aliases" in (front.error or "")
    assert front.body == "# Body\n\ntext\n"
    with pytest.raises(FrontMatterError, match="aliases"):
        split(ALIAS_BOMB)


def test_any_alias_or_merge_key_is_refused() -> None:
    with pytest.raises(FrontMatterError, match="aliases"):
        split("---\nbase: &b {x: 1}\nother:\n  <<: *b\n---\nbody\n")


def test_oversized_block_is_refused_before_parsing() -> None:
    big = "---\n" + "".join(f"k{i}: {'v' * 60}\n" for i in range(400)) + "---\nbody\n"
    with pytest.raises(FrontMatterError, match="byte limit"):
        split(big)


def test_deep_nesting_is_refused() -> None:
    deep = "---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nbody\n"
    with pytest.raises(FrontMatterError, match="nested deeper"):
        split(deep)


def test_huge_integer_is_a_clear_error() -> None:
    with pytest.raises(FrontMatterError, match="invalid YAML value"):
        split("---\nn: " + "9" * 6000 + "\n---\nbody\n")


@pytest.mark.parametrize(
    "block",
    ["n: 0x" + "f" * 4000, "? 0x" + "f" * 4000 + "\n: key", "tags: [0" + "7" * 5000 + "]", "title: 1" + ":59" * 3000],
    ids=["hex", "hex-key", "octal-tag", "sexagesimal-title"],
)
def test_an_integer_too_long_to_print_is_a_clear_error_in_any_notation(block: str) -> None:
    """Hex, octal and base-60 integers skip Python's decimal digit limit when read, and failed later,
    wherever they were turned into text: parse (which never raises) raised ValueError, a standard's
    tags or title failed the whole index build."""
    text = "---\n" + block + "\n---\n# Heading\n\nbody\n"
    with pytest.raises(FrontMatterError, match="invalid YAML value"):
        split(text)
    parsed = parse(text)
    assert parsed.meta == {} and parsed.error is not None and "invalid YAML value" in parsed.error
    assert chunk_markdown(text).chunks  # the standard is still indexed, without its front matter


def test_python_tags_are_refused() -> None:
    with pytest.raises(FrontMatterError, match="could not determine a constructor"):
        split("---\nx: !!python/object/apply:os.system ['true']\n---\nbody\n")


def test_not_a_mapping() -> None:
    with pytest.raises(FrontMatterError, match="mapping"):
        split("---\n- a\n- b\n---\nbody\n")


def test_tags_normal_form() -> None:
    assert normalize_tags("a, B ,, a") == ["a", "b"]
    assert normalize_tags(None) == []
    assert normalize_tags([1, True, "x|y", "ok"]) == ["1", "ok"]
    # One tag with a space stays one tag (the writer split it into two before; the index did not).
    assert normalize_tags("Auth Tokens") == ["auth tokens"]
    assert normalize_tags(["Auth  Tokens", "auth tokens"]) == ["auth tokens"]
    assert normalize_tag("a\x1bb") is None


def test_written_and_indexed_tags_agree() -> None:
    from standards.curation.publish import StandardDocument, render_standard

    text = render_standard(
        StandardDocument(
            domain="security", title="T", body="Body.", created_by="a", approved_by="b", tags="Auth Tokens"
        ),
        existing=None,
    )
    assert parse(text).meta["tags"] == ["auth tokens"]
    assert chunk_markdown(text).tags == ["auth tokens"]


def test_persona_with_alias_bomb_is_a_named_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.md"
    path.write_text(ALIAS_BOMB.replace("# Body", "x" * 60), encoding="utf-8")
    with pytest.raises(PersonaFileError, match=r"bomb\.md: invalid YAML front matter: .*aliases"):
        load_persona_file(path, "project")


def test_one_parser_in_the_code() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for folder in ("personas", "standards", "mcp_server", "worker"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name != "frontmatter.py" and ("yaml.safe_load" in text or "yaml.load(" in text):
                offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_broken_front_matter_names_the_files_lines_and_the_fix() -> None:
    from standards.frontmatter import FIX_HINT

    text = "---\ntitle: Paging\ntags: [api, cursors\n---\n# Paging\n\nUse cursors.\n"
    parsed = parse(text)
    assert parsed.error is not None
    # libyaml says "did not find expected ',' or ']'", the pure-Python parser "expected ',' or ']', but got …"
    assert parsed.error.startswith("malformed front matter ignored: ")
    assert parsed.error.endswith(f" at line 4; while parsing a flow sequence started at line 3; {FIX_HINT}")
    assert parsed.body.startswith("# Paging")  # the text is still used
    with pytest.raises(FrontMatterError) as caught:  # a persona file: the same lines, its own fix
        split(text)
    message = str(caught.value)
    assert message.startswith("the front matter is not valid YAML (")
    assert message.endswith("at line 4; while parsing a flow sequence started at line 3); fix it or remove it")
    indented = parse("---\ntitle: x\n  bad: indent\n---\nbody\n").error
    assert indented == f"malformed front matter ignored: mapping values are not allowed here at line 3; {FIX_HINT}" or (
        indented
        == f"malformed front matter ignored: mapping values are not allowed in this context at line 3; {FIX_HINT}"
    )
