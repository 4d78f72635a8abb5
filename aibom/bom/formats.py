"""Every output format `aibom scan --format` offers, and the one function that renders any of them."""

from __future__ import annotations

from datetime import datetime

from ..inventory import Inventory
from . import cdx_basics
from .fragments import FragmentCache

FORMATS = (*cdx_basics.FORMATS, "spdx-json", "spdx3-json")


def render(
    inv: Inventory,
    fmt: str = "cyclonedx-json",
    spec_version: str = "1.6",
    fragments: FragmentCache | None = None,
    timestamp: datetime | None = None,
    processes: int | None = None,
) -> str:
    """The validated document text. Raises InvalidBom when aibom's own output fails validation.

    `fragments` (CycloneDX JSON only) reuses the components rendered by an earlier run of the same root.
    Libraries load only when asked for: a CycloneDX JSON BOM assembled wholly from cached fragments
    needs none of them. `timestamp` defaults to `build_timestamp()` (SOURCE_DATE_EPOCH or now).
    `processes` caps the worker processes that render many components (CycloneDX JSON; default: cores)."""
    return "".join(render_chunks(inv, fmt, spec_version, fragments, timestamp, processes))


def render_chunks(
    inv: Inventory,
    fmt: str = "cyclonedx-json",
    spec_version: str = "1.6",
    fragments: FragmentCache | None = None,
    timestamp: datetime | None = None,
    processes: int | None = None,
) -> list[str]:
    """`render`'s text as pieces to write one after another: a CycloneDX JSON BOM is assembled from its
    components' fragments, and joining them would hold the document in memory a second time."""
    if fmt == "cyclonedx-json":
        from .assemble import render_json_chunks

        return render_json_chunks(inv, spec_version, fragments, timestamp, processes)
    if fmt == "cyclonedx-xml":
        from . import cyclonedx

        return [cyclonedx.render_xml(inv, spec_version, timestamp)]
    if fmt == "spdx-json":
        from . import spdx2  # spdx-tools takes a moment to import: only when asked for

        return [spdx2.render(inv, timestamp)]
    if fmt == "spdx3-json":
        from . import spdx3

        return [spdx3.render(inv, timestamp)]
    raise ValueError(f"unknown format {fmt!r}")
