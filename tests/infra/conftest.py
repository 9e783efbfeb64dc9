"""The job harness of tests/jobs, for the infra tests that drive a real queue and worker."""

from tests.jobs.conftest import jobs, make_jobs

__all__ = ["jobs", "make_jobs"]
