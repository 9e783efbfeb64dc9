"""SARIF 2.1.0: one run, rules = the team standards cited (or the persona when none is), one result
per located finding with its region relative to the repository root. Findings without a file are
listed in the run's properties (code scanning needs a location to show a result)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from personas.report.model import ReviewReport
from personas.runtime.review import Finding

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/agent-personas/agent-personas"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
FINGERPRINT_KEY = "agentPersonasFinding/v1"


def _rule_id(finding: Finding) -> str:
    if finding.standard_refs:
        return finding.standard_refs[0]
    return f"persona/{(finding.personas or ['reviewer'])[0]}/no-team-standard"


def _rule(rule_id: str, findings: list[Finding]) -> dict[str, Any]:
    worst = min(findings, key=lambda f: list(LEVEL).index(f.severity))
    if rule_id.startswith("persona/"):
        persona = rule_id.split("/")[1]
        text = f"Raised by the {persona} persona without a team standard to cite"
        tags = ["agent-personas", persona]
    else:
        text = f"Team standard {rule_id}"
        tags = ["agent-personas", "team-standard", rule_id.split("/", 1)[0]]
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("#", " ").replace("/", " ").split())[:200],
        "shortDescription": {"text": text},
        "fullDescription": {"text": text + "."},
        "defaultConfiguration": {"level": LEVEL[worst.severity]},
        "properties": {"tags": tags, "security-severity": SECURITY_SEVERITY[worst.severity]},
    }


def _message(finding: Finding) -> str:
    parts = [finding.title, finding.detail.strip(), f"Recommendation: {finding.recommendation.strip()}"]
    if finding.standard_refs:
        parts.append("Standards: " + ", ".join(finding.standard_refs))
    if finding.personas:
        parts.append("Raised by: " + ", ".join(finding.personas))
    return "\n\n".join(parts)


def _result(finding: Finding, rule_index: int, rule_id: str, prefix: str) -> dict[str, Any]:
    assert finding.file is not None
    region: dict[str, Any] = {}
    if finding.line is not None:
        region = {"startLine": finding.line, "endLine": max(finding.line, finding.end_line or finding.line)}
    # A URI reference, relative to the repository root: a space, '#', '?', '%' or ':' in the path (a file
    # name, or whatever the model wrote) is percent-encoded, so it is never read as a fragment, a query
    # or an absolute URL such as 'https://elsewhere/…'.
    uri = quote(prefix + finding.file, safe="/-._~!$&'()*+,;=@")
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if region:
        physical["region"] = region
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [{"physicalLocation": physical}],
        "properties": {
            "severity": finding.severity,
            "personas": finding.personas,
            "standardRefs": finding.standard_refs,
            "inChange": finding.in_change,
        },
    }
    if finding.id:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.id}
    return result


def to_sarif(report: ReviewReport, *, version: str, path_prefix: str = "") -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log. ``path_prefix``: the project root's path inside the repository."""
    located = [f for f in report.findings if f.file]
    by_rule: dict[str, list[Finding]] = {}
    for finding in located:
        by_rule.setdefault(_rule_id(finding), []).append(finding)
    rule_ids = sorted(by_rule)
    rules = [_rule(rule_id, by_rule[rule_id]) for rule_id in rule_ids]
    results = [_result(f, rule_ids.index(_rule_id(f)), _rule_id(f), path_prefix) for f in located]
    unlocated = [
        {"severity": f.severity, "title": f.title, "location": f.location, "id": f.id}
        for f in report.findings
        if not f.file
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "agent-personas",
                "informationUri": INFORMATION_URI,
                "version": version,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"agent-personas/{'+'.join(m.persona for m in report.personas) or 'review'}/"},
        "invocations": [
            {
                "executionSuccessful": report.status == "complete"
                and all(m.status == "complete" for m in report.personas),
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": f"{m.persona}: {m.error}"}}
                    for m in report.personas
                    if m.error
                ],
            }
        ],
        "results": results,
        "properties": {
            "jobId": report.job_id,
            "changes": report.changes,
            "hiddenFindings": report.hidden_findings,
            "unlocatedFindings": unlocated,
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
