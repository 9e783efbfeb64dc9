"""A finished review as a report: plain text, Markdown, JSON or SARIF 2.1.0 (for code scanning)."""

from __future__ import annotations

from personas.report.model import FORMATS, MemberSummary, ReportFormat, ReviewReport
from personas.report.render import exit_code, render

__all__ = ["FORMATS", "MemberSummary", "ReportFormat", "ReviewReport", "exit_code", "render"]
