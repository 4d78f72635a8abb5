"""SARIF 2.1.0: one run, one rule per aibom rule id, results pointing at repo-relative files."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..inventory import Finding
from ..policy.engine import CheckResult
from ..policy.rules import RULES
from ..textsafe import for_json_text, for_terminal, has_controls

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _rule(rule_id: str, sample: Finding) -> dict[str, Any]:
    known = RULES.get(rule_id)
    text = known.title if known else f"{sample.category} finding reported by a scanner"
    help_text = (known.remediation if known else sample.remediation) or "See the finding's message."
    out: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(p.capitalize() for p in rule_id.split("-")),
        "shortDescription": {"text": text},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": _LEVEL[str(known.severity if known else sample.severity)]},
        "properties": {"category": str(sample.category), "tags": [str(sample.category)]},
    }
    if known:
        out["fullDescription"] = {"text": known.rationale}
    return out


def _result(f: Finding, index: dict[str, int], line: int | None, suppressed: str | None = None) -> dict[str, Any]:
    message = f.message + (f" Fix: {f.remediation}" if f.remediation else "")
    res: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": index[f.rule],
        "level": _LEVEL[str(f.severity)],
        "message": {"text": for_terminal(message)},
        "properties": {"category": str(f.category), "component": f.component},
    }
    if f.location:
        uri = quote(f.location, safe="/") if has_controls(f.location) else f.location
        physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
        if line is not None:
            physical["region"] = {"startLine": line}
        elif f.offset is not None:
            physical["region"] = {"byteOffset": f.offset}
        res["locations"] = [{"physicalLocation": physical}]
    if suppressed is not None:
        res["suppressions"] = [{"kind": "external", "justification": for_terminal(suppressed)}]
    return res


def render(result: CheckResult) -> str:
    everything = list(result.findings) + [f for f, _ in result.waived]
    rules: dict[str, Finding] = {}
    for f in everything:
        rules.setdefault(f.rule, f)
    ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(ids)}
    results = [_result(f, index, result.line_of(f)) for f in result.findings]
    results += [_result(f, index, result.line_of(f), w.reason) for f, w in result.waived]
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "aibom",
                        "version": __version__,
                        "informationUri": "https://aibom.invalid/",
                        "rules": [_rule(r, rules[r]) for r in ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the scanned folder"}}},
                "results": results,
                "properties": {"openness": {m.location or m.ref: m.level for m in result.models}},
            }
        ],
    }
    return for_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
