"""A report a person reads in a terminal: grouped by severity, then component; each finding with its fix."""

from __future__ import annotations

import os
from collections.abc import Callable

from ..policy.engine import SEVERITY_ORDER, CheckResult
from ..textsafe import for_terminal

_COLOURS = {"error": "31;1", "warning": "33;1", "info": "36", "dim": "2", "bold": "1"}
_HEADINGS = {"error": "Errors", "warning": "Warnings", "info": "Info"}


def use_colour(isatty: bool) -> bool:
    return isatty and not os.environ.get("NO_COLOR") and not os.environ.get("CI")


def render(result: CheckResult, source: str, failed: bool, policy: str | None = None, colour: bool = False) -> str:
    def paint(text: str, style: str) -> str:
        return f"\x1b[{_COLOURS[style]}m{text}\x1b[0m" if colour else text

    safe: Callable[[str], str] = for_terminal
    lines = [paint(f"aibom check: {safe(source)}", "bold")]
    if policy:
        lines.append(f"policy: {safe(policy)}")
    if result.models:
        lines.append("")
        lines.append(paint("Models (openness)", "bold"))
        for m in result.models:
            lines.append(f"  {m.level:<19} {safe(m.location or m.name)}")
    for severity in SEVERITY_ORDER:
        group = [f for f in result.findings if f.severity == severity]
        if not group:
            continue
        lines.append("")
        lines.append(paint(f"{_HEADINGS[str(severity)]} ({len(group)})", str(severity)))
        last = None
        for f in sorted(group, key=lambda f: (f.location or f.component or "", f.rule)):
            where = f.location or f.component or "(project)"
            if where != last:
                lines.append(f"  {safe(where)}")
                last = where
            lines.append(f"    {paint(str(severity), str(severity))} [{f.rule}] {safe(f.message)}")
            if f.remediation:
                lines.append(paint(f"      fix: {safe(f.remediation)}", "dim"))
    if result.waived:
        lines.append("")
        lines.append(paint(f"Waived ({len(result.waived)})", "dim"))
        for f, w in result.waived:
            lines.append(f"  [{f.rule}] {safe(f.location or f.component or '(project)')}: {safe(f.message)}")
            lines.append(paint(f"      waived: {safe(w.reason)}", "dim"))
    counts = ", ".join(f"{result.count(s)} {s}{'s' if result.count(s) != 1 else ''}" for s in SEVERITY_ORDER)
    verdict = paint("FAILED", "error") if failed else "passed"
    lines.append("")
    lines.append(f"{counts}; {len(result.waived)} waived: {verdict}")
    return "\n".join(lines) + "\n"
