"""What the secret scanner looks for, line by line (pure functions): the placeholder policy, the
hand-written rules for secrets no library detector covers (assignments, connection strings and
their parameters, Basic credentials), and detect-secrets' regex detectors for token formats.

:mod:`standards.curation.secrets` runs these over each line, over lines joined where a value is
split across them, and over base64-decoded text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

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


# user may be empty: redis://:password@host
_CONNECTION_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,20})://([^\s:/@'\"`]*):([^\s@/'\"`]+)@[\w.\-\[\]]+", re.IGNORECASE)


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


# ------------------------------------------------------------------ connection-string parameters

# password=… / Password=… / AccountKey=… / ?api_key=… after ';', '?' or '&' (JDBC and ADO.NET
# connection strings, Azure storage connection strings, URL query strings).
_PARAMETER = re.compile(
    r"""(?:[;?&]|^(?=\s*+\w++\s*+=[^;]*;))\s*+(?P<key>password|passwd|pwd|pass|secret|client[-_]?secret|api[-_]?key|apikey|access[-_]?key|"""
    r"""access[-_]?token|auth[-_]?token|token|sig|accountkey|sharedaccesskey)\s*+=\s*+(?P<value>[^;&\s"'`<>]++)""",
    re.IGNORECASE,
)


def _parameter(line: str) -> Iterator[str]:
    for match in _PARAMETER.finditer(line):
        value = match.group("value")
        if len(value) >= 4 and not is_placeholder(value) and not re.search(r"[(\[{$%]|^\?$|^:\w+$", value):
            yield f"credential parameter {match.group('key')}= in a connection string or URL"
            return


# ------------------------------------------------------------------ HTTP Basic credentials

_BASIC = re.compile(r"(?i:\bbasic)\s++(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])")
_CURL_USER = re.compile(r"(?:\s|^)(?:-u|--user)\s++['\"]?(?P<user>[^\s:'\"]++):(?P<password>[^\s'\"]++)")


def _basic_auth(line: str) -> Iterator[str]:
    for match in _BASIC.finditer(line):
        decoded = decode_base64(match.group("value"))
        if decoded and ":" in decoded:
            password = decoded.split(":", 1)[1]
            if password and not is_marked_placeholder(password):
                yield "HTTP Basic credentials"
                return
    for match in _CURL_USER.finditer(line):
        if not is_marked_placeholder(match.group("password")) and not is_placeholder(match.group("password")):
            yield "HTTP Basic credentials (-u user:password)"
            return


def decode_base64(value: str) -> str | None:
    """``value`` decoded as base64 when that gives printable UTF-8 text, else None."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return None
    return text


# ------------------------------------------------------------------ GCP service-account keys

_GCP_KEY_ID = re.compile(r"\"private_key_id\"\s*:\s*\"[0-9a-f]{40}\"")


def _gcp_service_account(line: str) -> Iterator[str]:
    if _GCP_KEY_ID.search(line):
        yield "GCP service-account key"


# ------------------------------------------------------------------ detect-secrets detectors


@functools.cache
def library_detectors() -> tuple[tuple[Any, str | None], ...]:
    """detect-secrets' regex detectors for token formats, each with its guard (or None).

    Its entropy and keyword detectors are not used: our assignment rule carries the placeholder
    policy. Imported on first scan, not at import time (detect-secrets costs ~0.3 s to import).
    A guard is text a line must hold before a detector whose patterns backtrack on some long
    lines runs at all.
    """
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    guards: dict[type[Any], str] = {NpmDetector: "_authToken"}
    detectors = (
        AWSKeyDetector(),
        AzureStorageKeyDetector(),
        GitHubTokenDetector(),
        GitLabTokenDetector(),
        SlackDetector(),
        StripeDetector(),
        SendGridDetector(),
        NpmDetector(),
        PypiTokenDetector(),
        TwilioKeyDetector(),
        DiscordBotTokenDetector(),
        TelegramBotTokenDetector(),
        MailchimpDetector(),
        SquareOAuthDetector(),
    )
    return tuple((d, guards.get(type(d))) for d in detectors)


def library_findings(line: str) -> Iterator[str]:
    """Kinds found in ``line`` by detect-secrets' detectors (one per detector). Each detector's own
    patterns are run (``finditer``: the whole match, so the placeholder policy sees the whole token)."""
    for detector, guard in library_detectors():
        if guard is not None and guard not in line:
            continue
        if any(not _token_placeholder(m.group(0)) for regex in detector.denylist for m in regex.finditer(line)):
            yield str(detector.secret_type)


#: Fixed token formats: these also run over lines joined where a value is split across them.
TOKEN_RULES: tuple[LineRule, ...] = (
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
    _format_rule("JSON Web Token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)

LINE_RULES: tuple[LineRule, ...] = (
    *TOKEN_RULES,
    _format_rule("bearer token", r"(?i:\bbearer)\s+(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{20,}=*"),
    _connection_string,
    _parameter,
    _basic_auth,
    _gcp_service_account,
    _assignment,
)
