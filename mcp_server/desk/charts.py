"""Ops charts rendered to SVG on the server with pygal (no script, nothing loaded from the network)."""

from __future__ import annotations

from collections.abc import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

from worker.trends import PersonaTrend

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    font_family="system-ui, sans-serif",
    colors=("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4b5563"),
)


def _svg(chart: pygal.Graph) -> Markup:
    # js=[] drops pygal's default tooltip script, which would load from a CDN.
    return Markup(chart.render(is_unicode=True))


def _base(kind: type[pygal.Graph], title: str, labels: Sequence[str]) -> pygal.Graph:
    chart = kind(
        js=[],
        style=STYLE,
        disable_xml_declaration=True,
        explicit_size=False,
        width=760,
        height=300,
        title=title,
        legend_at_bottom=True,
        print_values=False,
        x_label_rotation=30 if len(labels) > 10 else 0,
        truncate_label=-1,
    )
    chart.x_labels = list(labels)
    return chart


def jobs_per_day(trends: list[PersonaTrend]) -> Markup:
    """One bar per persona per day."""
    days = trends[0].days if trends else []
    chart = _base(pygal.Bar, "Jobs per day", [d[5:] for d in days])
    for t in trends:
        chart.add(t.persona, t.jobs_per_day)
    return _svg(chart)


def durations(trends: list[PersonaTrend]) -> Markup:
    chart = _base(pygal.Bar, "Duration (s): p50 and p95", [t.persona for t in trends])
    chart.add("p50", [t.p50_duration_seconds for t in trends])
    chart.add("p95", [t.p95_duration_seconds for t in trends])
    return _svg(chart)


def rates(trends: list[PersonaTrend]) -> Markup:
    chart = _base(pygal.Bar, "Failure and dismissal rate (%)", [t.persona for t in trends])
    chart.add("failure", [None if t.failure_rate is None else round(100 * t.failure_rate, 1) for t in trends])
    chart.add("dismissal", [None if t.dismissal_rate is None else round(100 * t.dismissal_rate, 1) for t in trends])
    return _svg(chart)


def tokens(trends: list[PersonaTrend]) -> Markup:
    chart = _base(pygal.Bar, "Tokens", [t.persona for t in trends])
    chart.add("input", [t.tokens_input for t in trends])
    chart.add("output", [t.tokens_output for t in trends])
    return _svg(chart)
