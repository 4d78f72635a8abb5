"""The lineage graph of an inventory (project -> models -> base models / datasets) as inline SVG.

A small deterministic layered layout: a node's column is its longest path from the project, rows are
ordered by the mean row of the node's parents, then by label. Libraries collapse into one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from ..inventory import Artifact, Kind
from ..policy.context import Context, ancestors, dataset_refs, is_external
from ..textsafe import for_terminal

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 210, 28, 90, 12, 12
MAX_LABEL = 28
MAX_NODES = 2000  # bound: a BOM read back may name many components
MAX_DEPTH = 32  # bound on base-model chains (and a guard against cycles)
#: Fill per openness level / kind (the legend in the page uses the same table).
FILLS = {
    "reproducible": "#1b7f3b",
    "open-source-ai": "#4c9f38",
    "open-weights": "#c9a227",
    "restricted-weights": "#d9731a",
    "proprietary-blob": "#b3261e",
    "project": "#24292f",
    "dataset": "#2f6fb3",
    "base-model": "#6e7781",
    "code": "#6f42c1",
    "libraries": "#8250df",
}


@dataclass
class Node:
    id: str
    label: str
    kind: str  # project | model | base-model | dataset | code | libraries
    fill: str
    title: str
    col: int = 0
    row: int = 0


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        if node.id not in self.nodes and len(self.nodes) < MAX_NODES:
            self.nodes[node.id] = node
        return self.nodes.get(node.id, node)

    def link(self, src: str, dst: str) -> None:
        if src in self.nodes and dst in self.nodes and src != dst and (src, dst) not in self.edges:
            self.edges.append((src, dst))


def build(ctx: Context, levels: dict[str, str], root_name: str) -> Graph:
    """Project, shipped models, their datasets and base models (recursively), code and libraries."""
    g = Graph()
    g.add(Node("project", root_name, "project", FILLS["project"], f"project: {root_name}"))
    for model in ctx.models:
        level = levels.get(model.ref, "proprietary-blob")
        g.add(Node(model.ref, model.name, "model", FILLS[level], f"model: {model.name} ({level})"))
        g.link("project", model.ref)
    todo = list(ctx.models)
    seen: set[str] = set()
    while todo:
        model = todo.pop(0)
        if model.ref in seen:
            continue
        seen.add(model.ref)
        for ref in ancestors(model):
            base = ctx.by_ref.get(ref)
            if base is None:
                continue
            if base.ref not in g.nodes:
                g.add(Node(base.ref, base.name, "base-model", FILLS["base-model"], _title("base model", base)))
            g.link(model.ref, base.ref)
            todo.append(base)
        for ref in dataset_refs(model):
            data = ctx.by_ref.get(ref)
            if data is not None:
                g.add(Node(data.ref, data.name, "dataset", FILLS["dataset"], _title("dataset", data)))
                g.link(model.ref, data.ref)
    if ctx.code_locations:
        n = len(ctx.code_locations)
        title = "code: " + ", ".join(ctx.code_locations[:20]) + (" ..." if n > 20 else "")
        g.add(Node("code", f"code ({n} file{'s' if n != 1 else ''})", "code", FILLS["code"], title))
        g.link("project", "code")
    libs = sorted({a.name for a in ctx.artifacts if a.kind is Kind.LIBRARY})
    if libs:
        title = "libraries: " + ", ".join(libs[:40]) + (" ..." if len(libs) > 40 else "")
        label = f"{len(libs)} librar{'ies' if len(libs) != 1 else 'y'}"
        g.add(Node("libraries", label, "libraries", FILLS["libraries"], title))
        g.link("code" if "code" in g.nodes else "project", "libraries")
    _layout(g)
    return g


def esc(text: object) -> str:
    """Text from the tree made safe for HTML text and attributes: control and bidi characters shown as
    `\\xNN` / `\\uNNNN` escapes (so they cannot reorder or hide text), then `html.escape(quote=True)`."""
    return escape(for_terminal(str(text)), quote=True)


def _title(what: str, a: Artifact) -> str:
    return f"{what}: {a.name}" + (" (named, not in the tree)" if is_external(a) else "")


def _layout(g: Graph) -> None:
    """Columns by longest path from the project (bounded); rows ordered by the parents' mean row, then
    kind and label, each placed level with its parents when the rows above leave room."""
    parents: dict[str, list[str]] = {n: [] for n in g.nodes}
    for src, dst in g.edges:
        parents[dst].append(src)
    depth = {"project": 0}
    for _ in range(MAX_DEPTH):  # relax edges; a cycle stops at MAX_DEPTH
        changed = False
        for src, dst in g.edges:
            if src in depth and depth.get(dst, -1) < depth[src] + 1 <= MAX_DEPTH:
                depth[dst] = depth[src] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[Node]] = {}
    for node in g.nodes.values():
        node.col = depth.get(node.id, 1)
        columns.setdefault(node.col, []).append(node)
    for col in sorted(columns):
        nodes = columns[col]

        def key(n: Node, col: int = col) -> tuple[float, str, str]:
            rows = [g.nodes[p].row for p in parents[n.id] if g.nodes[p].col < col]
            return (sum(rows) / len(rows) if rows else 0.0, _kind_order(n.kind), n.label.casefold() + n.id)

        last = -1
        for node in sorted(nodes, key=key):  # beside its parents where there is room, else the next free row
            rows = [g.nodes[p].row for p in parents[node.id] if g.nodes[p].col < col]
            wanted = int(sum(rows) / len(rows) + 0.5) if rows else 0
            node.row = last = max(last + 1, wanted)


def _kind_order(kind: str) -> str:
    return str(("project", "model", "base-model", "dataset", "code", "libraries").index(kind))


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "\u2026"


def svg(g: Graph) -> str:
    """The graph as one `<svg>` element; every label is escaped, full text in a `<title>`."""
    cols = max((n.col for n in g.nodes.values()), default=0) + 1
    rows = max((n.row for n in g.nodes.values()), default=0) + 1
    width = PAD * 2 + cols * NODE_W + (cols - 1) * COL_GAP
    height = PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP

    def xy(n: Node) -> tuple[int, int]:
        return PAD + n.col * (NODE_W + COL_GAP), PAD + n.row * (NODE_H + ROW_GAP)

    out = [
        f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>',
    ]
    for src, dst in g.edges:
        a, b = g.nodes[src], g.nodes[dst]
        (x1, y1), (x2, y2) = xy(a), xy(b)
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H // 2, y2 + NODE_H // 2
        if b.col <= a.col:  # same or earlier column (a cycle): loop around below
            d = f"M{x1},{y1} C{x1 + 40},{y1 + 60} {x2 - 40},{y2 + 60} {x2},{y2}"
        else:
            mid = (x1 + x2) // 2
            d = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
        out.append(
            f'<path class="edge" data-from="{esc(src)}" data-to="{esc(dst)}" '
            f'd="{d}" fill="none" stroke="#57606a" stroke-width="1.4" marker-end="url(#arrow)"/>'
        )
    for node in sorted(g.nodes.values(), key=lambda n: (n.col, n.row)):
        x, y = xy(node)
        out.append(
            f'<g class="node" data-kind="{node.kind}" data-ref="{esc(node.id)}">'
            f"<title>{esc(node.title)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{node.fill}"/>'
            f'<text x="{x + 10}" y="{y + 18}" fill="#ffffff" font-size="13">{esc(_short(node.label))}'
            "</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)
