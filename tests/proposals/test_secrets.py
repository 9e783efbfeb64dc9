"""The secret scanner: true positives with line numbers and kinds, placeholders and prose pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from standards import universal_standards_dir
from standards.curation.secrets import ScanTarget, SecretsFound, check_no_secrets, scan_text

REPO = Path(__file__).resolve().parents[2]

# Assembled at run time so this file does not itself look like it leaks credentials.
PEM = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n" + ("MIIEowIBAAKCAQEA7bq" + "Zx9" * 15 + "\n") * 3 + "-----END RSA KEY-----"
)
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI = "sk-proj-" + "Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1Ef3Hj5Kl7"
ANTHROPIC = "sk-ant-api03-" + "Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1Ef3Hj5Kl7-Xy_Z"
JWT = "eyJhbGciOiJIUzI1NiJ9." + "eyJzdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "Q3sT5vX7zA"


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        (f"intro\n\n```\n{PEM}\n```", 4, "private key block"),
        ("aws_access_key_id = AKIAZ7QWERTYUIOPASDF", 1, "AWS access key ID"),
        (f"line one\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}", 2, "AWS secret access key"),
        (f"git clone https://{GITHUB}@github.com/acme/app", 1, "GitHub token"),
        (f"SLACK_TOKEN: {SLACK}", 1, "Slack token"),
        (f'stripe.api_key = "{STRIPE}"', 1, "Stripe secret key"),
        (f"export OPENAI_API_KEY={OPENAI}", 1, "OpenAI API key"),
        (f"a\nb\nclient = Anthropic(api_key='{ANTHROPIC}')", 3, "Anthropic API key"),
        (f"Authorization: Bearer {JWT}", 1, "JSON Web Token"),
        ("DATABASE_URL=postgres://user:pass@host:5432/db", 1, "credentials in a postgres:// connection string"),
        ("url: mongodb+srv://admin:hunter2@cluster0.example.net", 1, "credentials in a mongodb+srv:// connection"),
        ('db_password = "correct-Horse-7"', 1, "literal value assigned to 'db_password'"),
        ("  password: hunter22", 1, "literal value assigned to 'password'"),
        ('{"client_secret": "9f8e7d6c5b4a"}', 1, "literal value assigned to 'client_secret'"),
        ("API_TOKEN=3f9a0c1e77b24d", 1, "literal value assigned to 'API_TOKEN'"),
        ('password: str = "s3cr3t!"', 1, "literal value assigned to 'password'"),
    ],
)
def test_secrets_are_found_with_line_and_kind(text: str, line: int, kind: str) -> None:
    findings = scan_text(text)
    assert [(f.line, f.kind[: len(kind)]) for f in findings] == [(line, kind)], findings


@pytest.mark.parametrize(
    "text",
    [
        "DATABASE_URL=$DATABASE_URL",
        "api_key = os.environ['API_KEY']",
        'password = os.environ["DB_PASSWORD"]',
        "token: ${GITHUB_TOKEN}",
        "PAYMENTS_API_KEY=<redacted>",
        'password = "changeme"',
        'secret = "your-secret-here"',
        "password: ********",
        "postgres://user:${DB_PASSWORD}@db:5432/app",
        "postgres://$USER:$PASSWORD@db/app",
        "postgresql://app:<password>@localhost/app",
        "redis://localhost:6379/0",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "Authorization: Bearer <token>",
        "Set `ANTHROPIC_API_KEY` to sk-ant-... in your shell.",
        "Tokens expire after 15 minutes; passwords are hashed with Argon2id.",
        "token = issue_token(ttl=timedelta(minutes=15))",
        "password_hash = hasher.hash(password)",
        "token_ttl: 3600",
        "max_tokens: 1024",
        "secret_name: prod/db/password",
        "password_file: /run/secrets/db_password",
        "api_key: SecretStr",
        "getToken = false;",
        "if password == stored:",
        "-----BEGIN PRIVATE KEY----- blocks must never be committed",
        '"password": "correct horse battery staple"',
        "token_type = 'bearer'",
        'settings = {"password": settings.db_password}',
    ],
)
def test_placeholders_and_prose_pass(text: str) -> None:
    assert scan_text(text) == []


def test_message_names_lines_and_kinds_never_the_value() -> None:
    text = f"# Config\n\nAWS_ACCESS_KEY_ID=AKIAZ7QWERTYUIOPASDF\nGITHUB_TOKEN={GITHUB}\n"
    with pytest.raises(SecretsFound) as info:
        check_no_secrets(ScanTarget("content", text), ScanTarget("rationale", "fine"))
    message = str(info.value)
    assert "content line 3: AWS access key ID" in message
    assert "content line 4: GitHub token" in message
    assert "AKIAZ7QWERTYUIOPASDF" not in message and GITHUB not in message
    assert "$DATABASE_URL" in message  # says what to use instead
    assert [f.line for f in info.value.findings] == [3, 4]


def test_shipped_standards_and_personas_pass_clean() -> None:
    files = sorted(universal_standards_dir().rglob("*.md")) + sorted((REPO / "personas").glob("*.md"))
    assert len(files) >= 20 and sum(1 for f in files if f.parent.name == "personas") == 6
    dirty = {f.name: scan_text(f.read_text(encoding="utf-8")) for f in files}
    assert {name: found for name, found in dirty.items() if found} == {}


@pytest.mark.parametrize("line", ["a" * 4000, "password" * 500, "ab-" * 1333, 'token="' * 500, "x://" * 1000])
@pytest.mark.timeout(60)  # the guard: a backtracking regex takes minutes here (no elapsed-time assertion)
def test_pathological_lines_scan_in_linear_time(line: str) -> None:
    findings = scan_text("\n".join([line] * 50))
    assert all(1 <= f.line <= 50 for f in findings)


def test_env_style_assignment_inside_a_sentence() -> None:
    findings = scan_text("Run it with\nDEPLOY_TOKEN=7fe3a9c01b2d44e6 ./deploy.sh, or set DEPLOY_TOKEN=$DEPLOY_TOKEN")
    assert [(f.line, f.kind) for f in findings] == [(2, "literal value assigned to 'DEPLOY_TOKEN'")]
