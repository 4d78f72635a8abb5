"""Findings JSON: `{"findings": [...], "summary": {...}}`, validated by schemas/findings.schema.json."""

from __future__ import annotations

import json
from typing import Any

from ..inventory import Finding
from ..policy.engine import CheckResult
from ..textsafe import for_json_text

FIELDS = ("rule", "category", "severity", "component", "location", "message", "remediation")


def finding_dict(f: Finding) -> dict[str, Any]:
    return {k: (str(getattr(f, k)) if getattr(f, k) is not None else None) for k in FIELDS}


def summary(result: CheckResult, source: str, fail_on: str, failed: bool, policy: str | None) -> dict[str, Any]:
    return {
        "source": source,
        "policy": policy,
        "errors": result.count("error"),  # type: ignore[arg-type]
        "warnings": result.count("warning"),  # type: ignore[arg-type]
        "infos": result.count("info"),  # type: ignore[arg-type]
        "waived": len(result.waived),
        "fail_on": fail_on,
        "failed": failed,
        "models": [
            {"component": m.ref, "name": m.name, "location": m.location, "openness": m.level} for m in result.models
        ],
    }


def render(result: CheckResult, source: str, fail_on: str, failed: bool, policy: str | None = None) -> str:
    doc = {
        "findings": [finding_dict(f) for f in result.findings],
        "waived": [finding_dict(f) | {"waiver_reason": w.reason} for f, w in result.waived],
        "summary": summary(result, source, fail_on, failed, policy),
    }
    return for_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"
