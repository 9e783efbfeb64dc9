"""JobOptions: the job system's tunables (leases, attempts, retention, limits, webhook), as plain values.

Built from Settings by ``mcp_server`` (``Settings.job_options()``); the worker layer never reads the
environment. Defaults here equal the Settings defaults, so tests can build one directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobOptions:
    lease_seconds: float = 30.0
    """A running job's worker renews its lease every lease/3; a lease that expired means the worker died."""
    max_attempts: int = 3
    """Runs of one job (a run on a worker that died counts); past this the job fails with the reason."""
    retention_days_complete: float = 30.0
    """Completed jobs older than this are deleted by the retention cron."""
    retention_days_failed: float = 90.0
    """Failed and cancelled jobs older than this are deleted by the retention cron."""
    daily_job_limit: int = 0
    """Jobs one persona may start per UTC day; 0 = no limit."""
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_max_attempts: int = 5
    webhook_backoff_seconds: float = 0.5
    """First retry delay of a webhook delivery; doubles on each retry."""
    orphan_grace_seconds: float = 5.0
    """A pending job whose queue entry vanished is re-enqueued once it has waited this long."""

    @property
    def heartbeat_seconds(self) -> float:
        return max(0.1, self.lease_seconds / 3)

    @property
    def reaper_interval_seconds(self) -> float:
        return max(0.1, self.lease_seconds / 3)
