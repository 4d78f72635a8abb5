"""`--online`: fill in missing licenses from the Python package index and the Hugging Face Hub.

Off by default; offline results are complete on their own. Every request has a timeout, transient
failures are retried, answers are cached on disk for a day, and an unreachable service produces one
clear warning (the scan goes on offline). What is added is marked `aibom:online:*`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .deps.environment import metadata_license
from .hf_license import card_licenses
from .inventory import Inventory, Kind, License

PYPI_URL = "https://pypi.org/pypi"
HF_URL = "https://huggingface.co"
TIMEOUT = (5, 15)  # connect, read (seconds)
CACHE_TTL = 24 * 3600
MAX_RESPONSE = 8 << 20


class Client:
    """GET JSON with timeouts, retries and an on-disk response cache; remembers unreachable hosts."""

    def __init__(self, cache_dir: Path | None) -> None:
        self.cache_dir = cache_dir
        self.session = requests.Session()
        retry = Retry(total=2, backoff_factor=0.2, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=("GET",))
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["User-Agent"] = f"aibom/{__version__}"
        self.down: dict[str, str] = {}  # base URL -> why it could not be reached

    def _cache_file(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / "online" / (hashlib.sha256(url.encode()).hexdigest() + ".json")

    def get(self, base: str, path: str) -> Any | None:
        """The JSON at base+path, None for 404 or an unusable answer (and for an unreachable base)."""
        url = base.rstrip("/") + path
        cached = self._cache_file(url)
        if cached is not None and cached.is_file() and time.time() - cached.stat().st_mtime < CACHE_TTL:
            try:
                return json.loads(cached.read_text(encoding="utf-8"))["body"]
            except (OSError, ValueError, KeyError):
                pass
        if base in self.down:
            return None
        try:
            resp = self.session.get(url, timeout=TIMEOUT, stream=True)
            raw = resp.raw.read(MAX_RESPONSE + 1, decode_content=True)
        except requests.RequestException as exc:
            self.down[base] = type(exc).__name__
            return None
        body = None
        if resp.status_code == 200 and len(raw) <= MAX_RESPONSE:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        elif resp.status_code != 404:
            return None  # an error worth retrying next run: not cached
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps({"url": url, "body": body}), encoding="utf-8")
                tmp.replace(cached)
            except OSError:
                pass
        return body


def pypi_license(info: dict[str, Any]) -> License | None:
    """A PyPI JSON `info` block read like METADATA headers."""
    headers: dict[str, list[str]] = {}
    for key, header in (("license_expression", "license-expression"), ("license", "license")):
        if isinstance(info.get(key), str) and info[key].strip():
            headers[header] = [info[key]]
    classifiers = info.get("classifiers")
    if isinstance(classifiers, list):
        headers["classifier"] = [c for c in classifiers if isinstance(c, str)]
    return metadata_license(headers)


def hub_license(doc: dict[str, Any]) -> list[License]:
    card = doc.get("cardData") if isinstance(doc.get("cardData"), dict) else {}
    value = card.get("license")
    if value is None:
        tags = doc.get("tags") if isinstance(doc.get("tags"), list) else []
        value = [t.split(":", 1)[1] for t in tags if isinstance(t, str) and t.startswith("license:")]
    return card_licenses(value, card.get("license_name"), card.get("license_link"))


def enrich(inv: Inventory, cache_dir: Path | None) -> None:
    """Add what the services know to artifacts that lack it. In place; adds warnings, never raises."""
    client = Client(cache_dir)
    pypi = os.environ.get("AIBOM_PYPI_URL", PYPI_URL)
    hub = os.environ.get("AIBOM_HF_URL", HF_URL)
    for art in sorted(inv.artifacts, key=lambda a: a.ref):
        if art.kind is Kind.LIBRARY and art.purl and art.purl.startswith("pkg:pypi/") and not art.licenses:
            path = f"/{quote(art.name)}/{quote(art.version)}/json" if art.version else f"/{quote(art.name)}/json"
            doc = client.get(pypi, path)
            info = doc.get("info") if isinstance(doc, dict) else None
            if isinstance(info, dict):
                if lic := pypi_license(info):
                    lic.source = "pypi"
                    art.licenses = [lic]
                    art.properties["aibom:online:license-source"] = "pypi"
                if not art.version and isinstance(info.get("version"), str):
                    art.properties["aibom:online:latest-version"] = info["version"][:100]
        elif art.properties.get("aibom:external") == "true" and art.ref.startswith("hf:") and not art.licenses:
            kind = "datasets" if art.kind is Kind.DATASET else "models"
            doc = client.get(hub, f"/api/{kind}/{quote(art.name, safe='/')}")
            if isinstance(doc, dict):
                licenses = hub_license(doc)
                for lic in licenses:
                    lic.source = "huggingface-hub"
                art.licenses = licenses
                if isinstance(doc.get("sha"), str):
                    art.properties["aibom:online:revision"] = doc["sha"][:64]
                art.properties["aibom:online:license-source"] = "huggingface-hub"
    for base, why in sorted(client.down.items()):
        inv.warnings.append(f"--online: cannot reach {base} ({why}); results for it are offline only")
