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
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, Field


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


# ------------------------------------------------------------------ placeholders

_PLACEHOLDER_WORDS = re.compile(
    r"example|changeme|change[-_ ]me|placeholder|redacted|dummy|sample|fake|your[-_]|replace[-_ ]?me|"
    r"todo|fixme|xxx|\*\*\*|\.\.\.|…|<[^>]*>|^\s*$",
    re.IGNORECASE,
)
_TEMPLATE = re.compile(r"\$\{?[A-Za-z_]|\$\(|\{\{|\{%|%\(|%s|\{[A-Za-z_]\w*\}|^<.*>$|^\[.*\]$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")  # e.g. DATABASE_PASSWORD: a variable name
_OBVIOUS_VALUES = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "pass",
        "pwd",
        "apikey",
        "api-key",
        "api_key",
        "admin",
        "root",
        "test",
        "testing",
        "guest",
        "none",
        "null",
        "nil",
        "true",
        "false",
        "yes",
        "no",
        "required",
        "optional",
        "string",
        "str",
        "bytes",
        "int",
        "bool",
        "number",
        "secretstr",
        "undefined",
        "env",
        "omitted",
        "hidden",
        "masked",
        "unset",
        "empty",
        "default",
    }
)


def is_marked_placeholder(value: str) -> bool:
    """True for values marked as placeholders: ``$VAR``, ``${VAR}``, ``<password>``, ``{{ var }}``,
    ``changeme``, ``xxxx``, ``***``, ``...``, or anything saying example/redacted/placeholder."""
    stripped = value.strip().strip("\"'`")
    if not stripped or len(set(stripped)) <= 2:  # '', 'xxxxxxxx', '********', '00000000'
        return True
    return bool(_PLACEHOLDER_WORDS.search(stripped) or _TEMPLATE.search(stripped))


def is_placeholder(value: str) -> bool:
    """True for values that obviously are not a real secret: marked placeholders, words such as
    'password' or 'none', and environment variable names (``DATABASE_PASSWORD``)."""
    stripped = value.strip().strip("\"'`")
    return is_marked_placeholder(stripped) or stripped.lower() in _OBVIOUS_VALUES or bool(_ENV_NAME.fullmatch(stripped))


def _token_placeholder(value: str) -> bool:
    """Placeholders inside fixed token formats: AWS's documented example keys, 'xxxx', '...'."""
    return bool(re.search(r"example|xxxx|\.\.\.|…|<|\*\*\*|your|redacted|placeholder", value, re.IGNORECASE)) or (
        len(set(value[-16:])) <= 2
    )


# ------------------------------------------------------------------ rules

LineRule = Callable[[str], Iterator[str]]


def _format_rule(kind: str, pattern: str, flags: int = 0) -> LineRule:
    regex = re.compile(pattern, flags)

    def scan(line: str) -> Iterator[str]:
        for match in regex.finditer(line):
            if not _token_placeholder(match.group(0)):
                yield kind
                return

    return scan


_CONNECTION_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,20})://([^\s:/@'\"`]+):([^\s@/'\"`]+)@[\w.\-\[\]]+", re.IGNORECASE)


def _connection_string(line: str) -> Iterator[str]:
    for match in _CONNECTION_URL.finditer(line):
        # 'user:pass@host' is flagged: only marked placeholders ($PASSWORD, <password>, ***) pass
        if not is_marked_placeholder(match.group(3)):
            yield f"credentials in a {match.group(1).lower()}:// connection string"
            return


_KEYWORD = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|auth[-_]?key|"
    r"credentials?|client[-_]?secret)"
)
_NOT_SECRET_KEY = re.compile(
    r"(?:_|-|\b)(?:name|names|id|ids|file|path|dir|url|uri|endpoint|ttl|expiry|expires|expiration|lifetime|age|"
    r"length|len|min|max|count|size|type|types|header|field|param|env|var|ref|policy|hash|hasher|hashing|"
    r"rotation|format|pattern|regex|prefix|suffix|store|manager|provider|source|label|kind|mode|version|"
    r"scope|scopes|limit|timeout|interval|endpoint)\b",
    re.IGNORECASE,
)
_KEYWORD_RE = re.compile(_KEYWORD, re.IGNORECASE)
# Names are found first (a linear scan), then the assignment is matched right after each name that
# contains a keyword: one regex with the name inside would backtrack quadratically on long lines.
_NAME = re.compile(r"[\w.-]++")
# after the name: = "literal" / : 'literal' / ": "literal" (JSON) / => "literal" / : str = "literal"
_QUOTED_VALUE = re.compile(
    r"""["']?\s*+(?::\s*+[A-Za-z_][\w\[\], |.]*+)?\s*+(?:=>|:=|[:=])\s*+"""
    r"""[rbuf]{0,2}(?P<q>["'`])(?P<value>[^"'`]*+)(?P=q)""",
    re.IGNORECASE,
)
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9_]*+")
_ENV_VALUE = re.compile(r"""=(?P<value>[^\s"'`;,]++)""")
# a whole line that is an assignment of a bare value: KEY=value, export KEY=value, key: value
_BARE_ASSIGNMENT = re.compile(
    r"""^\s*+(?:(?:export|set)\s++|-\s++)?(?P<key>[\w.-]++)\s*+[=:]\s*+(?P<value>[^\s"'`;,]++)\s*+[,;]?\s*+$""",
    re.IGNORECASE,
)
_EXPRESSION = re.compile(r"[()\[\]{}$%<>!&|]|^[\w]+\.[\w.]+$|^[/~.]|://|^-?\d+(?:\.\d+)?[smhd]?$")


def _assignment_value_is_secret(key: str, value: str, *, quoted: bool) -> bool:
    if _NOT_SECRET_KEY.search(key) or is_placeholder(value):
        return False
    if quoted:
        return len(value) >= 4 and not re.search(r"\s", value)
    if _EXPRESSION.search(value) or len(value) < 6:
        return False
    # a bare word in prose-like YAML ('token: bearer') is not a secret; a value with digits or
    # symbols, or a long one, is
    return bool(re.search(r"\d|[^\w.-]", value)) or len(value) >= 12


def _assignment(line: str) -> Iterator[str]:
    for name in _NAME.finditer(line):
        key = name.group(0)
        if not _KEYWORD_RE.search(key):
            continue
        value = _QUOTED_VALUE.match(line, name.end())
        if value and _assignment_value_is_secret(key, value.group("value"), quoted=True):
            yield f"literal value assigned to {_short_key(key)}"
            return
        # an environment-style KEY=value anywhere in the line (e.g. in prose or a shell command)
        bare_env = _ENV_VALUE.match(line, name.end()) if _ENV_KEY.fullmatch(key) else None
        if bare_env and _assignment_value_is_secret(key, bare_env.group("value"), quoted=False):
            yield f"literal value assigned to {_short_key(key)}"
            return
    bare = _BARE_ASSIGNMENT.match(line)
    if (
        bare
        and _KEYWORD_RE.search(bare.group("key"))
        and _assignment_value_is_secret(bare.group("key"), bare.group("value"), quoted=False)
    ):
        yield f"literal value assigned to {_short_key(bare.group('key'))}"


def _short_key(key: str) -> str:
    key = key.strip("\"'")
    return f"'{key[:40]}'"


_LINE_RULES: tuple[LineRule, ...] = (
    _format_rule("AWS access key ID", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
    _format_rule(
        "AWS secret access key",
        r"(?i:aws).{0,30}(?i:secret|private).{0,30}?[=:]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
    ),
    _format_rule("GitHub token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}"),
    _format_rule("GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    _format_rule("Slack token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    _format_rule("Slack webhook URL", r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    _format_rule("Stripe secret key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    _format_rule("Anthropic API key", r"\bsk-ant-(?:api|admin|sid)\d{2}-[A-Za-z0-9_-]{20,}"),
    _format_rule("OpenAI API key", r"\bsk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{32,}"),
    _format_rule("Google API key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    _format_rule("npm token", r"\bnpm_[A-Za-z0-9]{36}\b"),
    _format_rule("SendGrid API key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b"),
    _format_rule("bearer token", r"(?i:\bbearer)\s+(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{20,}=*"),
    _format_rule("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _connection_string,
    _assignment,
)

_GENERIC_KINDS = ("literal value", "bearer token")
_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_KEY_BODY = re.compile(r"^\s*[A-Za-z0-9+/=]{24,}\s*$")


def _private_keys(lines: list[str]) -> Iterator[int]:
    """Line numbers of BEGIN … PRIVATE KEY headers followed by key material (a bare header, as in
    prose that names the format, is fine)."""
    for number, line in enumerate(lines, start=1):
        if not _KEY_BEGIN.search(line):
            continue
        following = lines[number : number + 4]
        if any(_KEY_BODY.match(candidate) for candidate in following):
            yield number


def scan_text(text: str, *, field: str = "content") -> list[SecretFinding]:
    """Every likely secret in ``text``: one finding per line and kind, in line order."""
    lines = text.splitlines()
    findings = [SecretFinding(field=field, line=n, kind="private key block") for n in _private_keys(lines)]
    for number, full_line in enumerate(lines, start=1):
        line = full_line[:4000]  # minified blobs: scan the head only, keep this linear and cheap
        kinds: list[str] = []
        for rule in _LINE_RULES:
            kinds.extend(kind for kind in rule(line) if kind not in kinds)
        # a recognised token inside an assignment or a bearer header is reported once, as the token
        if len(kinds) > 1:
            kinds = [k for k in kinds if not k.startswith(_GENERIC_KINDS)] or kinds
        findings.extend(SecretFinding(field=field, line=number, kind=kind) for kind in kinds)
    return sorted(findings, key=lambda f: f.line)


@dataclass(frozen=True)
class ScanTarget:
    field: str
    text: str


def check_no_secrets(*targets: ScanTarget) -> None:
    """Raise :class:`SecretsFound` when any text holds a likely secret."""
    findings = [finding for target in targets for finding in scan_text(target.text, field=target.field)]
    if findings:
        raise SecretsFound(findings)
