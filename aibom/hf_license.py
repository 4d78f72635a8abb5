"""Hugging Face card `license:` values (a tag or a list of tags) -> License records."""

from __future__ import annotations

from .hf_ids import card_license
from .inventory import License

MAX_TAGS = 16


def card_licenses(value: object, license_name: object = None, license_link: object = None) -> list[License]:
    """The licenses a card's front matter states; `unknown` states none."""
    values = value if isinstance(value, list) else [value]
    name = license_name.strip()[:200] if isinstance(license_name, str) and license_name.strip() else None
    link = license_link if isinstance(license_link, str) and license_link.startswith("http") else None
    out: list[License] = []
    for tag in values[:MAX_TAGS]:
        if isinstance(tag, str) and tag.strip() and (lic := card_license(tag, name, link)) is not None:
            out.append(lic)
    return out
