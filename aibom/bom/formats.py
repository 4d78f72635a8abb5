"""Every output format `aibom scan --format` offers, and the one function that renders any of them."""

from __future__ import annotations

from ..inventory import Inventory
from . import cyclonedx
from .fragments import FragmentCache

FORMATS = (*cyclonedx.FORMATS, "spdx-json", "spdx3-json")


def render(
    inv: Inventory, fmt: str = "cyclonedx-json", spec_version: str = "1.6", fragments: FragmentCache | None = None
) -> str:
    """The validated document text. Raises cyclonedx.InvalidBom when aibom's own output fails validation.

    `fragments` (CycloneDX JSON only) reuses the components rendered by an earlier run of the same root."""
    if fmt in cyclonedx.FORMATS:
        return cyclonedx.render(inv, fmt, spec_version, fragments)
    if fmt == "spdx-json":
        from . import spdx2  # spdx-tools takes a moment to import: only when asked for

        return spdx2.render(inv)
    if fmt == "spdx3-json":
        from . import spdx3

        return spdx3.render(inv)
    raise ValueError(f"unknown format {fmt!r}")
