"""Settings: one pydantic-settings class, read from the environment (prefix ``PERSONAS_``).

Relative paths are resolved against ``project_root``. Every field documents its environment
variable; the README's configuration table mirrors this file. One concern (the configuration
surface), past 400 lines because every setting carries its validation and its documentation;
reading it from the environment with readable errors is :mod:`mcp_server.settings_load`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mcp_server.project_root import find_project_root
from worker.options import JobOptions

ENV_PREFIX = "PERSONAS_"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    """All configuration of server and worker. Build it once in ``main()`` and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        validate_default=True,
        populate_by_name=True,
    )
    _project_root_given: bool = PrivateAttr(default=False)

    project_root: Path = Field(
        default_factory=find_project_root,
        description="The project personas review; file tools are sandboxed to it. Default: the nearest folder "
        "from the working directory up holding .agent-os or .git, else the working directory. PERSONAS_PROJECT_ROOT.",
    )
    standards_dir: Path = Field(
        default=Path(".agent-os/standards"),
        description="The project's own standards (Markdown, one folder per domain). PERSONAS_STANDARDS_DIR.",
    )
    personas_dir: Path = Field(
        default=Path(".agent-os/personas"),
        description="Custom personas that add to or override the core six. PERSONAS_PERSONAS_DIR.",
    )
    rules_discovery: bool = Field(
        default=True,
        description="Index rule files found in the project (AGENTS.md, CLAUDE.md, .cursor/rules/*.mdc, .cursorrules, "
        ".github/copilot-instructions.md, .github/instructions/*.instructions.md, nested AGENTS.md) as read-only "
        "standards of source 'rules'. PERSONAS_RULES_DISCOVERY.",
    )
    rules_domains: dict[str, str] = Field(
        default_factory=dict,
        description="JSON object mapping globs over a rule file's project-relative path to a standards domain, "
        'e.g. {".cursor/rules/sec*.mdc": "security"}; unmatched files use their front matter \'domain\' or '
        "'general'. PERSONAS_RULES_DOMAINS.",
    )
    shared_standards_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Read-only organisation standards folders (path-separated list, e.g. a checkout of the org's "
        "standards repo), source 'shared'; project > shared > universal. PERSONAS_SHARED_STANDARDS_DIRS.",
    )
    shared_standards_writable: bool = Field(
        default=False,
        description="Let approve_standard_proposal(target='shared') write to the first shared folder (it must be "
        "writable). PERSONAS_SHARED_STANDARDS_WRITABLE.",
    )
    claude_agents: bool = Field(
        default=True,
        description="Load the project's Claude Code subagents (.claude/agents/*.md) as personas. "
        "PERSONAS_CLAUDE_AGENTS.",
    )
    data_dir: Path = Field(
        default=Path(".agent-os/data"),
        description="Job database, standards index and embedded Redis socket. PERSONAS_DATA_DIR.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "PERSONAS_REDIS_URL"),
        description="Redis for the job queue. Unset: the server starts a private redis-server. REDIS_URL.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL for jobs, conversations, usage and proposals (a team on several hosts), "
        "postgresql://user:password@host:5432/db. Unset: SQLite files in the data dir. PERSONAS_DATABASE_URL.",
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_API_KEY", "PERSONAS_ANTHROPIC_API_KEY"),
        description="Claude API key. Unset: personas answer with a briefing instead. ANTHROPIC_API_KEY.",
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "PERSONAS_ANTHROPIC_BASE_URL"),
        description="Any Anthropic-compatible endpoint. ANTHROPIC_BASE_URL.",
    )
    model: str = Field(
        default="claude-sonnet-5-5",
        min_length=1,
        description="Default Claude model for personas that do not name one. PERSONAS_MODEL.",
    )
    embedding_model_path: Path | None = Field(
        default=None,
        description="Local sentence-transformers model directory; unset = bundled all-MiniLM-L6-v2. "
        "PERSONAS_EMBEDDING_MODEL_PATH.",
    )
    embedding_backend: Literal["auto", "onnx-int8", "onnx", "torch"] = Field(
        default="auto",
        description="How the model runs: 'auto' = ONNX Runtime int8 (graph exported once from the local "
        "weights, cached under ~/.cache/agent-personas/onnx) when onnxruntime is installed, else torch; "
        "'onnx' = fp32 ONNX (same vectors as torch); 'torch'. PERSONAS_EMBEDDING_BACKEND.",
    )
    embedding_cache: bool = Field(
        default=True,
        description="Share vectors of unchanged text across projects and checkouts (the starter standards' vectors "
        "ship with the package and need no cache). PERSONAS_EMBEDDING_CACHE.",
    )
    embedding_cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agent-personas",
        description="Folder of that cache (embeddings.sqlite3, 0700, at most 50,000 vectors, least recently used "
        "dropped; delete it any time). PERSONAS_EMBEDDING_CACHE_DIR.",
    )
    embedder: Literal["sentence-transformers", "hashing"] = Field(
        default="sentence-transformers",
        description="'hashing' = a fast, deterministic, non-semantic embedder for tests and smoke runs. "
        "PERSONAS_EMBEDDER.",
    )
    worker_concurrency: int = Field(
        default=100, ge=1, le=1000, description="Jobs one worker runs at once. PERSONAS_WORKER_CONCURRENCY."
    )
    job_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="Wall-time limit of one persona run. PERSONAS_JOB_TIMEOUT_SECONDS.",
    )
    queue_poll_interval: float = Field(
        default=0.05,
        gt=0,
        le=10,
        description="Seconds between a worker's queue polls (pickup latency). PERSONAS_QUEUE_POLL_INTERVAL.",
    )
    llm_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="Timeout of one Claude API call. PERSONAS_LLM_TIMEOUT_SECONDS.",
    )
    llm_max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries of 429/529/5xx/timeouts, with backoff. PERSONAS_LLM_MAX_RETRIES.",
    )
    max_context_chars: int = Field(
        default=200_000,
        ge=1_000,
        description="Cap on task + context of one invocation. PERSONAS_MAX_CONTEXT_CHARS.",
    )
    standards_max_files: int = Field(
        default=20_000,
        ge=1,
        description="Markdown files taken from one standards folder at most; a bigger tree (node_modules, a "
        "checkout root) is cut with a warning. PERSONAS_STANDARDS_MAX_FILES.",
    )
    max_diff_chars: int = Field(
        default=100_000,
        ge=1_000,
        description="Cap on the unified diff a 'changes' review shows the persona (cut with a note). "
        "PERSONAS_MAX_DIFF_CHARS.",
    )
    http_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for `serve --http` (at least 32 characters); required unless bound to "
        "127.0.0.1, ::1 or localhost. PERSONAS_HTTP_TOKEN.",
    )
    remote_clients: bool = Field(
        default=False,
        description="The server cannot see its callers' checkouts (a team server over HTTP): invoke tools take the "
        "code as `files` and `diff`, and the instructions tell the assistant to send it. Without it they are "
        "refused. `serve --http --remote-clients` sets it. PERSONAS_REMOTE_CLIENTS.",
    )
    log_level: LogLevel = Field(default="INFO", description="Log level (logs go to stderr). PERSONAS_LOG_LEVEL.")
    # ---- the MCP surface (mcp_server/tools/profiles.py) ---------------------------------------------
    tools: str = Field(
        default="developer",
        min_length=1,
        description="Tools offered: a profile (developer, reviewer, ops, all) or a comma list of profiles and "
        "tool names. `serve --tools` overrides it. PERSONAS_TOOLS.",
    )
    require_elicitation: bool = Field(
        default=False,
        description="Refuse approve/reject of proposals, dismiss_finding and reset_persona_jobs unless the client "
        "can ask the user (MCP elicitation). PERSONAS_REQUIRE_ELICITATION.",
    )
    persona_tools: Literal["each", "single"] = Field(
        default="each",
        description="'each' = one invoke_<persona> tool per persona; 'single' = one invoke_persona(persona, …). "
        "PERSONAS_PERSONA_TOOLS.",
    )
    # ---- jobs: reliability, retention, limits, webhook (worker/options.py: JobOptions) ----------
    job_lease_seconds: float = Field(
        default=30.0,
        ge=0.3,
        le=3600,
        description="A running job's worker renews its lease every third of this; when it lapses (worker "
        "killed) the job is re-run on a live worker or failed. PERSONAS_JOB_LEASE_SECONDS.",
    )
    job_max_attempts: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Runs of one job before a dying worker fails it. PERSONAS_JOB_MAX_ATTEMPTS.",
    )
    retention_days_complete: float = Field(
        default=30.0,
        gt=0,
        description="Completed jobs older than this are deleted. PERSONAS_RETENTION_DAYS_COMPLETE.",
    )
    retention_days_failed: float = Field(
        default=90.0,
        gt=0,
        description="Failed and cancelled jobs older than this are deleted. PERSONAS_RETENTION_DAYS_FAILED.",
    )
    daily_job_limit: int = Field(
        default=0,
        ge=0,
        description="Jobs one persona may start per UTC day; 0 = no limit. PERSONAS_DAILY_JOB_LIMIT.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="POST a signed JSON summary here when a job finishes. PERSONAS_WEBHOOK_URL.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key of the X-Personas-Signature header; required with a webhook URL. "
        "PERSONAS_WEBHOOK_SECRET.",
    )
    webhook_max_attempts: int = Field(
        default=5,
        ge=1,
        le=20,
        description="Deliveries tried per webhook, with backoff. PERSONAS_WEBHOOK_MAX_ATTEMPTS.",
    )

    @field_validator("shared_standards_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("rules_domains")
    @classmethod
    def _check_domains(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, domain in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", domain):
                raise ValueError(f"domain {domain!r} for {pattern!r} must be a lowercase slug like 'security'")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value().strip() == "":
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://user:password@host:5432/dbname URL (or unset for SQLite)")
        return value

    @field_validator("anthropic_base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_needs_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("webhook_url") is not None and not (value and value.get_secret_value()):
            raise ValueError("is required when PERSONAS_WEBHOOK_URL is set (use a long random string)")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="wrap")
    @classmethod
    def _remember_root_given(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        settings = handler(data)
        settings._project_root_given = isinstance(data, dict) and data.get("project_root") not in (None, "")
        return settings

    @property
    def project_root_given(self) -> bool:
        """PERSONAS_PROJECT_ROOT (or an explicit value) was set: the client's roots do not move it."""
        return self._project_root_given

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        root = self.project_root.expanduser().resolve()
        self.project_root = root
        self.standards_dir = _under(root, self.standards_dir)
        self.personas_dir = _under(root, self.personas_dir)
        self.data_dir = _under(root, self.data_dir)
        self.shared_standards_dirs = [_under(root, p) for p in self.shared_standards_dirs]
        if self.embedding_model_path is not None:
            self.embedding_model_path = _under(root, self.embedding_model_path)
        return self

    @property
    def api_key(self) -> str | None:
        return self.anthropic_api_key.get_secret_value() if self.anthropic_api_key else None

    def job_options(self) -> JobOptions:
        """The job system's tunables, as the worker layer takes them."""
        return JobOptions(
            lease_seconds=self.job_lease_seconds,
            max_attempts=self.job_max_attempts,
            retention_days_complete=self.retention_days_complete,
            retention_days_failed=self.retention_days_failed,
            daily_job_limit=self.daily_job_limit,
            webhook_url=self.webhook_url,
            webhook_secret=self.webhook_secret.get_secret_value() if self.webhook_secret else None,
            webhook_max_attempts=self.webhook_max_attempts,
        )

    @property
    def shared_approval_dir(self) -> Path | None:
        """The folder approve_standard_proposal(target='shared') writes to: the first shared folder."""
        return self.shared_standards_dirs[0] if self.shared_standards_dirs else None

    @property
    def claude_agents_root(self) -> Path | None:
        """The project root whose .claude/agents are loaded as personas (None: loading is off)."""
        return self.project_root if self.claude_agents else None

    @property
    def jobs_db_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def proposals_db_path(self) -> Path:
        return self.data_dir / "proposals.sqlite3"

    @property
    def jobs_database(self) -> Path | str:
        """Where the job store lives: the PostgreSQL URL, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.jobs_db_path

    @property
    def proposals_database(self) -> Path | str:
        return self.database_url.get_secret_value() if self.database_url else self.proposals_db_path

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


def _under(root: Path, path: Path) -> Path:
    path = path.expanduser()
    return (path if path.is_absolute() else root / path).resolve()
