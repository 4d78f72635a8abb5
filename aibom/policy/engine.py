"""Run the rules over an inventory and apply the policy file: the one entry point of `aibom check`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from ..inventory import Finding, Inventory, Severity
from .config import PolicyConfig, Waiver
from .context import Context
from .openness import annotate
from .rules import RULES

SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.INFO)


@dataclass(frozen=True)
class ModelLevel:
    ref: str
    name: str
    location: str | None
    level: str


@dataclass
class CheckResult:
    findings: list[Finding]  # active findings
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)
    models: list[ModelLevel] = field(default_factory=list)
    #: (component ref, location) -> line of that evidence, where the inventory knows it (for SARIF regions)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def line_of(self, f: Finding) -> int | None:
        return self.lines.get((f.component or "", f.location or ""))

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


def _key(f: Finding) -> tuple:
    return (SEVERITY_ORDER.index(Severity(f.severity)), f.location or "", f.rule, f.component or "", f.message)


def openness(inv: Inventory, config: PolicyConfig | None = None) -> dict[str, str]:
    """Record every model's openness level on it (`aibom:openness`), as `aibom scan` does before writing."""
    return annotate(Context(inv, config or PolicyConfig()))


def check(inv: Inventory, config: PolicyConfig | None = None, today: date | None = None) -> CheckResult:
    config = config or PolicyConfig()
    ctx = Context(inv, config)
    levels = annotate(ctx)
    found: list[Finding] = []
    for f in inv.findings:  # what the scanners found (unsafe-code, unreadable, integrity ...)
        known = RULES.get(f.rule)
        found.append(replace(f, remediation=f.remediation or (known.remediation if known else None)))
    for r in RULES.values():
        if r.check is not None and r.id not in config.disabled:
            found.extend(r.check(ctx, r))
    today = today or date.today()
    result = CheckResult(findings=[])
    seen: set[tuple] = set()
    for f in sorted(found, key=_key):
        if f.rule in config.disabled or _key(f) in seen:
            continue
        seen.add(_key(f))
        if f.rule in config.severities:
            f = replace(f, severity=Severity(config.severities[f.rule]))
        waiver = next((w for w in config.waivers if w.matches(f.rule, f.location, f.component)), None)
        if waiver and waiver.expires and waiver.expires < today:
            f = replace(f, message=f"{f.message} (waiver expired on {waiver.expires.isoformat()}: {waiver.reason})")
            waiver = None
        if waiver:
            result.waived.append((f, waiver))
        else:
            result.findings.append(f)
    result.findings.sort(key=_key)
    result.lines = {
        (a.ref, ev.location): ev.line for a in ctx.artifacts for ev in a.evidence if ev.line is not None and ev.line > 0
    }
    result.models = sorted(
        (ModelLevel(m.ref, m.name, m.location, levels[m.ref]) for m in ctx.models),
        key=lambda x: (x.location or "", x.ref),
    )
    return result


def fails(result: CheckResult, fail_on: str) -> bool:
    if fail_on == "never":
        return False
    threshold = SEVERITY_ORDER.index(Severity(fail_on))
    return any(SEVERITY_ORDER.index(Severity(f.severity)) <= threshold for f in result.findings)
