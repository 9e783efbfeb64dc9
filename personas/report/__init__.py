"""A finished review as a report: plain text, Markdown, JSON or SARIF 2.1.0 (for code scanning).

Importing this package is cheap: each name below is imported from its module on first use (PEP 562),
so the ``personas`` command line, which names the formats in its help, loads the renderers only
when it renders a report. ``render`` is imported from :mod:`personas.report.render` (a lazy name
would be shadowed by its module of the same name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from standards.lazy_names import lazy_names

if TYPE_CHECKING:
    from personas.report.model import FORMATS, MemberSummary, ReportFormat, ReviewReport
    from personas.report.render import exit_code

#: Where each name of this package lives.
_HOMES = {
    "FORMATS": "personas.report.model",
    "MemberSummary": "personas.report.model",
    "ReportFormat": "personas.report.model",
    "ReviewReport": "personas.report.model",
    "exit_code": "personas.report.render",
}


__getattr__ = lazy_names(__name__, _HOMES, globals())


__all__ = ["FORMATS", "MemberSummary", "ReportFormat", "ReviewReport", "exit_code"]
