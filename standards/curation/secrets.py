"""A small secret scanner for proposed and imported standards (pure functions, no I/O).

Standards are documentation: they must show *where* a secret lives (``$DATABASE_URL``,
``os.environ["API_KEY"]``, "stored in AWS Secrets Manager"), never a secret. The scanner looks
for credential formats that are unambiguous (private key blocks, cloud and SaaS token formats,
JWTs, credentials inside URLs) and for assignments of a literal value to a password/secret/token
name. Obvious placeholders (``$VAR``, ``${VAR}``, ``<redacted>``, ``changeme``, ``xxxx``, values
containing ``example``) pass. A finding names the line and the kind of secret, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, Field

from standards.curation.secret_rules import (
    LINE_RULES,
    TOKEN_RULES,
    LineRule,
    decode_base64,
    library_findings,
)


class SecretFinding(BaseModel):
    """Where a likely secret is. The value itself is never recorded."""

    field: str = Field(description="Which text it is in, e.g. 'content'.")
    line: int = Field(description="1-based line number within that text.")
    kind: str = Field(description="What it looks like, e.g. 'AWS access key ID'.")

    def describe(self) -> str:
        return f"{self.field} line {self.line}: {self.kind}"


class SecretsFound(ValueError):
    """Text contains likely secrets; the message lists line numbers and kinds, never values."""

    def __init__(self, findings: list[SecretFinding]) -> None:
        self.findings = findings
        shown = "; ".join(f.describe() for f in findings[:20])
        more = f"; and {len(findings) - 20} more" if len(findings) > 20 else ""
        super().__init__(
            f"it looks like it contains secrets ({shown}{more}). Standards must never hold real credentials: "
            "replace each value with a placeholder such as $DATABASE_URL, ${API_KEY} or <redacted>, and say "
            "where the secret is stored instead (e.g. 'read from AWS Secrets Manager at startup')."
        )


GENERIC_KINDS = ("literal value", "bearer token", "credential parameter")
#: Long lines are scanned in overlapping windows (every rule stays linear and cheap, and nothing
#: past a column limit goes unscanned).
WINDOW = 4_000
OVERLAP = 400
#: At most this many consecutive lines are joined to find a value split across them.
MAX_JOINED_LINES = 4
JOIN_CLIP = 200
_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-\d")
# key material, also behind quote or comment markers ('> ', '# ', '// ', '* ', '; ', '-- ')
_KEY_BODY = re.compile(r"^\s*(?:(?:[>#;*]|//|--)\s*)*[A-Za-z0-9+/=]{24,}\s*$|^Private-Lines:")
# a key on one line with escaped newlines (a GCP service-account JSON's "private_key")
_KEY_INLINE = re.compile(r"PRIVATE KEY(?: BLOCK)?-----(?:\\n|\\r|\s)+[A-Za-z0-9+/=]{24,}")
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
# a cheap pre-check before joining lines: the prefixes of the token formats in TOKEN_RULES
_TOKEN_HINT = re.compile(
    r"(?i:aws)|A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|NPA|NVA|IPA)|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|"
    r"hooks\.slack|[sr]k_(?:live|test)_|sk-|AIza|npm_|SG\.|eyJ"
)
_CONCAT_HEAD = re.compile(r"""^\s*+(?:\+|\.|&|\|\|)?\s*+(?:[rbuf]{0,2}["'`])?""")
_CONCAT_TAIL = re.compile(r"""(?:["'`]\s*+)?(?:\+|\\|\.|&|\|\|)?\s*+$""")


def _private_keys(lines: list[str]) -> Iterator[int]:
    """Line numbers of BEGIN … PRIVATE KEY headers followed by key material (a bare header, as in
    prose that names the format, is fine)."""
    for number, line in enumerate(lines, start=1):
        if not _KEY_BEGIN.search(line):
            continue
        following = lines[number : number + 4]
        if _KEY_INLINE.search(line) or any(_KEY_BODY.match(candidate) for candidate in following):
            yield number


def _windows(line: str) -> Iterator[str]:
    if len(line) <= WINDOW:
        yield line
        return
    for start in range(0, len(line), WINDOW - OVERLAP):
        yield line[start : start + WINDOW]


def _kinds(line: str, rules: tuple[LineRule, ...] = LINE_RULES, *, library: bool = True) -> list[str]:
    """The kinds of secret in one line: our rules first, detect-secrets' detectors where ours found
    no specific kind; a generic kind is dropped when a specific one is found."""
    ours: list[str] = []
    theirs: list[str] = []
    for window in _windows(line):
        for rule in rules:
            ours.extend(kind for kind in rule(window) if kind not in ours)
        if library:
            theirs.extend(kind for kind in library_findings(window) if kind not in theirs)
    kinds = ours if any(not k.startswith(GENERIC_KINDS) for k in ours) else ours + theirs
    if len(kinds) > 1:
        kinds = [k for k in kinds if not k.startswith(GENERIC_KINDS)] or kinds
    return kinds


def _piece(line: str, *, first: bool, last: bool) -> str:
    if not first:
        line = _CONCAT_HEAD.sub("", line[:JOIN_CLIP], count=1)
    if not last:
        line = _CONCAT_TAIL.sub("", line[-JOIN_CLIP:], count=1)
    return line


def _joined(lines: list[str]) -> str:
    return "".join(_piece(line, first=i == 0, last=i == len(lines) - 1) for i, line in enumerate(lines))


def _token_kinds(text: str) -> list[str]:
    return _kinds(text, TOKEN_RULES, library=False)


def _split_tokens(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(line number, kind) of token-format secrets split over 2-4 lines (string concatenation, a
    wrapped line): found in the joined lines, not in any one of them, and needing the first line."""
    for i in range(len(lines) - 1):
        for span in range(2, MAX_JOINED_LINES + 1):
            group = lines[i : i + span]
            if len(group) < span or any(len(middle) > JOIN_CLIP for middle in group[1:-1]):
                break
            joined = _joined(group)
            if not _TOKEN_HINT.search(joined):
                continue
            found = _token_kinds(joined)
            if not found:
                continue
            without_first = set(_token_kinds(_joined(group[1:]))) if span > 2 else set()
            alone = {k for line in group for k in _token_kinds(line)}
            new = [k for k in found if k not in alone and k not in without_first]
            if new:
                yield from ((i + 1, f"{kind} (split over lines)") for kind in new)
                break


def _encoded(line: str) -> Iterator[str]:
    """Kinds of secret inside base64 runs of ``line`` (decoded once, when they decode to text)."""
    seen: list[str] = []
    for match in _BASE64_RUN.finditer(line):
        decoded = decode_base64(match.group(0))
        if decoded is None:
            continue
        inner = decoded.splitlines()
        kinds = ["private key block"] if any(True for _ in _private_keys(inner)) else []
        for inner_line in inner:
            kinds.extend(k for k in _kinds(inner_line) if k not in kinds)
        for kind in kinds:
            if f"base64-encoded {kind}" not in seen:
                seen.append(f"base64-encoded {kind}")
    yield from seen


def scan_text(text: str, *, field: str = "content") -> list[SecretFinding]:
    """Every likely secret in ``text``: one finding per line and kind, in line order."""
    lines = text.splitlines()
    findings = [SecretFinding(field=field, line=n, kind="private key block") for n in _private_keys(lines)]
    for number, line in enumerate(lines, start=1):
        kinds = _kinds(line)
        kinds.extend(kind for kind in _encoded(line) if kind not in kinds)
        findings.extend(SecretFinding(field=field, line=number, kind=kind) for kind in kinds)
    findings.extend(SecretFinding(field=field, line=n, kind=kind) for n, kind in _split_tokens(lines))
    specific = {f.line for f in findings if not f.kind.startswith(GENERIC_KINDS)}
    kept = [f for f in findings if f.line not in specific or not f.kind.startswith(GENERIC_KINDS)]
    return sorted(kept, key=lambda f: f.line)


@dataclass(frozen=True)
class ScanTarget:
    field: str
    text: str


def check_no_secrets(*targets: ScanTarget) -> None:
    """Raise :class:`SecretsFound` when any text holds a likely secret."""
    findings = [finding for target in targets for finding in scan_text(target.text, field=target.field)]
    if findings:
        raise SecretsFound(findings)
