"""Hugging Face Hub names: repo ids, their purls and URLs, and the Hub's `license:` tags as licenses."""

from __future__ import annotations

import re

from packageurl import PackageURL

from .inventory import License
from .license_ids import spdx_expression
from .resources import load_json

HUB = "https://huggingface.co"
_PREFIXES = (f"{HUB}/", "hf://", "hf.co/", "huggingface.co/")
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^(?:(?P<org>{_PART})/)?(?P<name>{_PART})$")


def repo_id(value: str, kind: str = "model") -> str | None:
    """The canonical `org/name` (or legacy `name`) id in `value`, or None if it is not a Hub id.

    Accepts a bare id or a Hub URL (`https://huggingface.co/org/name`, `.../datasets/org/name`).
    Local paths (`./base`, `/models/x`, `C:\\x`) are not ids.
    """
    value = value.strip()
    for prefix in _PREFIXES:
        if value.startswith(prefix):
            value = value[len(prefix) :]
            if kind == "dataset" and value.startswith("datasets/"):
                value = value[len("datasets/") :]
            value = value.split("/tree/", 1)[0].rstrip("/")
            break
    m = _REPO_ID.match(value)
    if not m or ".." in value or "--" in value:
        return None
    return value


def purl(hub_id: str, kind: str = "model", version: str | None = None) -> str:
    """`pkg:huggingface/org/name[@commit]`; datasets carry `repository_url=https://huggingface.co/datasets`."""
    org, _, name = hub_id.rpartition("/")
    qualifiers = {"repository_url": f"{HUB}/datasets"} if kind == "dataset" else {}
    return PackageURL(
        type="huggingface", namespace=org or None, name=name, version=version, qualifiers=qualifiers
    ).to_string()


def url(hub_id: str, kind: str = "model") -> str:
    return f"{HUB}/datasets/{hub_id}" if kind == "dataset" else f"{HUB}/{hub_id}"


def card_license(tag: str, license_name: str | None = None, license_link: str | None = None) -> License | None:
    """A card's `license:` tag as a License (declared); None when the tag says the license is unknown."""
    key = tag.strip().lower()
    if key == "other":
        return License(name=license_name or "other (license not named by the card)", url=license_link)
    tags = load_json("licenses", "hf-license-tags.json")["tags"]
    if key in tags:
        entry = tags[key]
        if entry is None:
            return None
        if "id" in entry:
            return License(expression=entry["id"])
        return License(name=entry["name"], url=entry.get("url"))
    if expr := spdx_expression(tag):
        return License(expression=expr)
    return License(name=tag.strip()[:200], url=license_link)
