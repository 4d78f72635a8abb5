"""One self-contained HTML page for a release manager: summary, models and openness, lineage, licenses, findings.

No network fetches (inline CSS, inline SVG, no script); a Content-Security-Policy that allows only the
page's own style block (by hash), so an injected script or style could not run even if escaping failed.
Every string from the scanned tree goes through `esc` (control/bidi characters made visible, then
`html.escape(quote=True)`); hrefs are built only from validated Hugging Face ids.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Iterable

from .. import __version__
from ..bom.cdx_basics import build_timestamp
from ..hf_ids import repo_id, url
from ..inventory import Artifact, Inventory, Kind
from ..policy.context import Context, ancestors, dataset_refs, is_external
from ..policy.engine import SEVERITY_ORDER, CheckResult
from ..policy.licensing import RANK
from . import graph_layout
from .graph_layout import FILLS, esc
from .openness_gaps import gaps, next_level

STYLE = (
    """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eaeef2}.muted{color:#57606a}.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff}
.summary td:first-child{width:180px;font-weight:600}.graph{overflow:auto;background:#fff;border:1px solid #d0d7de}
.sev-error{color:#b3261e}.sev-warning{color:#9a6700}.sev-info{color:#0969da}ul.gaps{margin:2px 0;padding-left:18px}
.legend span{margin-right:12px;white-space:nowrap}.fix{color:#1a7f37}
""".strip()
    + "\n"
    + "".join(f".k-{name}{{background:{fill}}}" for name, fill in FILLS.items())
)
#: The only thing the page may load or run: its own style block (and data: images, of which it has none).
CSP = "default-src 'none'; style-src '{style}'; img-src data:; base-uri 'none'; form-action 'none'"
HEADINGS = {"error": "Errors", "warning": "Warnings", "info": "Info"}


def _style_hash() -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode("utf-8")).digest()).decode("ascii")


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _badge(level: str) -> str:
    return f'<span class="badge openness k-{level}" data-level="{level}">{level}</span>'


def _name(a: Artifact) -> str:
    """The artifact's name; a link to the Hub only for an external artifact whose name is a valid Hub id."""
    kind = "dataset" if a.kind is Kind.DATASET else "model"
    hub = repo_id(a.name, kind) if is_external(a) else None
    if hub and hub == a.name:
        return f'<a href="{esc(url(hub, kind))}" rel="noreferrer noopener">{esc(a.name)}</a>'
    return esc(a.name)


def _licenses(ctx: Context, a: Artifact) -> str:
    if not a.licenses:
        c = ctx.license_of(a)
        return f"{esc(c.label)} <span class='muted'>(concluded)</span>" if c else "<span class='muted'>none</span>"
    shown = (f"{esc(lic.label)} <span class='muted'>({esc(lic.acknowledgement)})</span>" for lic in a.licenses)
    return "<br>".join(shown)


def _refs(ctx: Context, refs: list[str]) -> str:
    names = [_name(ctx.by_ref[r]) if r in ctx.by_ref else esc(r) for r in refs]
    return ", ".join(names) if names else "<span class='muted'>none</span>"


def _models(ctx: Context, levels: dict[str, str]) -> str:
    if not ctx.models:
        return "<p class='muted'>No models found.</p>"
    rows = []
    for m in sorted(ctx.models, key=lambda m: (m.location or "", m.ref)):
        level = levels.get(m.ref, "proprietary-blob")
        missing = gaps(ctx, m, level)
        up = next_level(level)
        need = (
            f"<div class='muted'>to reach {up}:</div><ul class='gaps'>"
            + "".join(f"<li>{esc(g)}</li>" for g in missing)
            + "</ul>"
            if up and missing
            else ""
        )
        params = m.model.parameter_count if m.model and m.model.parameter_count is not None else None
        rows.append(
            [
                f"<span class='model-name'>{_name(m)}</span><div class='muted'>{esc(m.location or '')}</div>",
                _badge(level) + need,
                _licenses(ctx, m),
                f"{params:,}" if params is not None else "<span class='muted'>unknown</span>",
                esc(m.format or "unknown"),
                _refs(ctx, ancestors(m)),
                _refs(ctx, dataset_refs(m)),
            ]
        )
    headers = ("Model", "Openness", "License", "Parameters", "Format", "Base models", "Datasets")
    return _table(headers, rows, "models")


def _license_rows(ctx: Context) -> list[list[str]]:
    rows = []
    parts = {id(p) for a in ctx.artifacts for p in a.parts}  # a model directory's files: its own row covers them
    for a in sorted(ctx.artifacts, key=lambda a: (str(a.kind), a.name, a.ref)):
        if (a.kind is Kind.FILE and not a.licenses) or (id(a) in parts and not a.licenses):
            continue
        c = ctx.license_of(a)
        rows.append(
            [
                f"{_name(a)} <span class='muted'>({esc(a.kind)})</span>"
                + (f"<div class='muted'>{esc(a.location)}</div>" if a.location else ""),
                _licenses(ctx, a),
                esc(c.category) if c else "<span class='muted'>none</span>",
            ]
        )
    return rows


def _findings(ctx: Context, result: CheckResult) -> str:
    parts = []
    for severity in SEVERITY_ORDER:
        group = [f for f in result.findings if f.severity == severity]
        if not group:
            continue
        rows = [
            [
                esc(f.rule),
                esc(ctx.by_ref[f.component].name if f.component in ctx.by_ref else (f.component or "(project)")),
                esc(f.location or ""),
                esc(f.message),
                f"<span class='fix'>{esc(f.remediation)}</span>" if f.remediation else "",
            ]
            for f in group
        ]
        parts.append(f"<h3 class='sev-{severity}'>{HEADINGS[str(severity)]} ({len(group)})</h3>")
        parts.append(_table(("Rule", "Component", "Location", "Message", "Fix"), rows, f"findings {severity}"))
    if result.waived:
        rows = [
            [esc(f.rule), esc(f.location or f.component or ""), esc(f.message), esc(w.reason)] for f, w in result.waived
        ]
        parts.append(f"<h3>Waived ({len(result.waived)})</h3>")
        parts.append(_table(("Rule", "Where", "Message", "Waiver reason"), rows, "waived"))
    return "\n".join(parts) or "<p>No findings.</p>"


def render(inv: Inventory, ctx: Context, result: CheckResult, source: str, spec: str) -> str:
    """The whole page. `result` comes from `policy.engine.check` over `inv` (it records openness levels)."""
    levels = {m.ref: m.level for m in result.models}
    kinds = Counter(str(a.kind) for a in inv.artifacts if not is_external(a))
    graph = graph_layout.build(ctx, levels, inv.root_name)
    summary = [
        ["Project", esc(inv.root_name)],
        ["Source", esc(source)],
        ["Generated", esc(build_timestamp().isoformat().replace("+00:00", "Z")) + f" by aibom {esc(__version__)}"],
        ["BOM specification", esc(spec)],
        ["Files scanned", f"{inv.stats.files} ({inv.stats.bytes / (1 << 20):.1f} MiB)"],
        ["Components", ", ".join(f"{k}: {kinds[k]}" for k in ("model", "dataset", "library", "file"))],
        ["Findings", ", ".join(f"{result.count(s)} {s}" for s in SEVERITY_ORDER) + f", {len(result.waived)} waived"],
        ["Skipped", str(len(inv.skipped))],
    ]
    legend = "".join(f"<span><span class='badge k-{name}'>&#160;</span> {name}</span>" for name in FILLS)
    skip_rows = ([esc(s.path), esc(s.reason), esc(s.detail or "")] for s in inv.skipped)
    skipped = _table(("Path", "Reason", "Detail"), skip_rows, "skipped")
    warnings = "".join(f"<li>{esc(w)}</li>" for w in inv.warnings)
    rank = {c: i for i, c in enumerate(RANK)}
    license_rows = sorted(_license_rows(ctx), key=lambda r: (-rank.get(r[2], len(RANK)), r[0]))
    body = f"""<main>
<h1>AI bill of materials: {esc(inv.root_name)}</h1>
<h2 id="summary">Summary</h2>
{_table(("Item", "Value"), summary, "summary")}
<h2 id="models">Models</h2>
{_models(ctx, levels)}
<h2 id="lineage">Lineage</h2>
<p class="legend">{legend}</p>
<div class="graph">{graph_layout.svg(graph)}</div>
<h2 id="licenses">Licenses</h2>
{_table(("Component", "License", "Category"), license_rows, "licenses")}
<h2 id="findings">Findings</h2>
{_findings(ctx, result)}
<h2 id="skipped">Skipped files ({len(inv.skipped)})</h2>
{skipped if inv.skipped else "<p class='muted'>None.</p>"}
<h2 id="warnings">Warnings ({len(inv.warnings)})</h2>
{f"<ul>{warnings}</ul>" if warnings else "<p class='muted'>None.</p>"}
</main>"""
    csp = CSP.format(style=_style_hash())
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        "<meta name='referrer' content='no-referrer'>\n"
        f"<title>aibom report: {esc(inv.root_name)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )
