"""Secret-scanner gaps found by the hostile pass: each shape below used to be accepted."""

from __future__ import annotations

import base64

import pytest

from standards.curation.secrets import scan_text

# Assembled at run time so this file does not itself look like it leaks credentials.
KEY_LINE = "MIIEowIBAAKCAQEA7bq" + "Zx9" * 15
PEM_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"
GITHUB = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
AWS_ID = "AKIA" + "Z7QWERTYUIOPASDF"
AZURE_KEY = "Zm9vYmFy" * 10 + "Zm9vYmF5Ym9v" + "=="  # 88 characters
GCP = (
    "{\n"
    '  "type": "service_account",\n'
    '  "project_id": "acme-prod",\n'
    '  "private_key_id": "3f1c9b2e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c",\n'
    '  "private_key": "-----BEGIN ' + "PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n"
    '-----END PRIVATE KEY-----\\n",\n'
    '  "client_email": "deploy@acme-prod.iam.gserviceaccount.com"\n'
    "}"
)


def kinds(text: str) -> list[tuple[int, str]]:
    return [(f.line, f.kind) for f in scan_text(text)]


@pytest.mark.parametrize("marker", ["> ", "# ", "// ", "> > ", " * "])
def test_pem_key_behind_quote_or_comment_markers(marker: str) -> None:
    text = f"Example:\n{marker}{PEM_HEADER}\n{marker}{KEY_LINE}\n{marker}{KEY_LINE}\n"
    assert kinds(text) == [(2, "private key block")]


def test_gcp_service_account_json() -> None:
    found = kinds(GCP)
    assert (4, "GCP service-account key") in found
    assert (5, "private key block") in found


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("CACHE_URL=redis://:s3cr3tP4ss@cache.internal:6379/0", "credentials in a redis:// connection string"),
        ("url: jdbc:mysql://db.internal:3306/app?user=app&password=Pr0dPass1", "credential parameter password="),
        ("Server=tcp:db.internal,1433;Database=app;User ID=app;Password=Pr0dPass1;", "credential parameter Password="),
        ("Password=Pr0dPass1;Server=db.internal;", "credential parameter Password="),
        (
            "GET https://api.weather.io/v1/forecast?city=oslo&api_key=9f8e7d6c5b4a3210fedc",
            "credential parameter api_key=",
        ),
        ("curl 'https://api.weather.io/v1/forecast?api_key=9f8e7d6c5b4a3210fedc'", "credential parameter api_key="),
        (
            f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
            "Azure Storage Account access key",
        ),
        (
            "Authorization: Basic " + base64.b64encode(b"deploy:Tr0ub4dor&3").decode(),
            "HTTP Basic credentials",
        ),
        ("curl -u admin:Sup3rS3cret https://ci.internal/api", "HTTP Basic credentials"),
    ],
)
def test_connection_strings_urls_and_basic_credentials(text: str, kind: str) -> None:
    found = kinds(text)
    assert len(found) == 1, found
    assert found[0][0] == 1 and found[0][1].startswith(kind), found


def test_a_key_past_column_4000() -> None:
    line = "var a=1;" * 600 + f'var k="{GITHUB}";'
    assert len(line) > 4_800
    assert kinds(f"minified:\n{line}") == [(2, "GitHub token")]


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [
        (f'key = ("{AWS_ID[:8]}"\n       "{AWS_ID[8:]}")', 1, "AWS access key ID (split over lines)"),
        (f'token = "{GITHUB[:20]}" +\n    "{GITHUB[20:]}"', 1, "GitHub token (split over lines)"),
        (f"intro\ntoken:\n{GITHUB[:14]}\n{GITHUB[14:28]}\n{GITHUB[28:]}\n", 3, "GitHub token (split over lines)"),
    ],
)
def test_a_key_split_over_lines(text: str, line: int, kind: str) -> None:
    assert kinds(text) == [(line, kind)]


def test_base64_encoded_keys() -> None:
    encoded = base64.b64encode(f"GITHUB_TOKEN={GITHUB}\n".encode()).decode()
    assert kinds(f"secret data:\n  token: {encoded}\n") == [(2, "base64-encoded GitHub token")]
    pem = base64.b64encode(f"{PEM_HEADER}\n{KEY_LINE}\n".encode()).decode()
    assert kinds(f"tls.key: {pem}") == [(1, "base64-encoded private key block")]


@pytest.mark.parametrize(
    "text",
    [
        "Server=db;Database=app;User ID=app;Password=$DB_PASSWORD;",
        "Password=<your password>;Server=db;",
        "jdbc:postgresql://db/app?user=app&password=${DB_PASSWORD}",
        "https://api.weather.io/v1/forecast?api_key={api_key}",
        "redis://localhost:6379/0",
        "Authorization: Basic <base64 of user:password>",
        "curl -u $USER:$TOKEN https://ci.internal",
        "checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "image: " + base64.b64encode(bytes(range(256))).decode(),
        "The token\nrotation runs nightly; passwords\nare hashed.",
        "> -----BEGIN PRIVATE KEY----- headers in docs are fine",
    ],
)
def test_placeholders_and_harmless_text_still_pass(text: str) -> None:
    assert kinds(text) == []


def test_putty_key_and_a_long_base64_blob() -> None:
    putty = "PuTTY-User-Key-File-" + "3: ssh-rsa\nEncryption: none\nComment: deploy\nPrivate-Lines: 14\n" + KEY_LINE
    assert kinds(putty) == [(1, "private key block")]
    blob = base64.b64encode(("filler line\n" * 1_000 + f"GITHUB_TOKEN={GITHUB}\n").encode()).decode()
    assert len(blob) > 12_000
    assert kinds(f"data: {blob}") == [(1, "base64-encoded GitHub token")]
