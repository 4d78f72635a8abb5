"""Installed distributions read from `*.dist-info/METADATA` (email-header format), never imported.

Sources: a virtualenv inside the scanned tree (found by the walk) or any interpreter's
site-packages (`--python`). Only the header block of METADATA is read, bounded in size.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache

from ..inventory import License
from ..license_ids import identify_text, spdx_expression
from ..resources import load_json
from ..sniff import Probe, ReadError
from .model import canonicalize_name

MAX_METADATA_BYTES = 1 << 20
MAX_DISTRIBUTIONS = 20_000
PYTHON_TIMEOUT = 30


@dataclass
class Distribution:
    name: str
    version: str | None
    license: License | None
    requires: list[str] = field(default_factory=list)  # canonical names, extras-only ones left out
    metadata_path: str = ""  # absolute


class PythonNotUsable(Exception):
    """`--python PATH` is not an interpreter aibom can ask for its site-packages."""


def site_packages_of_env(env_dir: str) -> list[str]:
    """The site-packages folders of a virtualenv or conda environment, without running it."""
    found = []
    for lib in ("lib", "lib64", "Lib"):
        base = os.path.join(env_dir, lib)
        direct = os.path.join(base, "site-packages")  # Windows venvs and conda on Windows
        if os.path.isdir(direct):
            found.append(direct)
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for name in names:
            candidate = os.path.join(base, name, "site-packages")
            if name.startswith(("python3", "pypy3")) and os.path.isdir(candidate):
                found.append(candidate)
    unique: dict[str, str] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def site_packages_of_python(python: str) -> list[str]:
    """Ask the user's own interpreter (not anything in the scanned tree) where its packages live."""
    import subprocess  # like email.parser and packaging.requirements below: loaded only to read an environment

    code = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps(sorted({p['purelib'], p['platlib']})))"
    try:
        proc = subprocess.run(
            [python, "-I", "-c", code], capture_output=True, text=True, timeout=PYTHON_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PythonNotUsable(f"cannot run {python}: {exc}") from None
    if proc.returncode != 0:
        raise PythonNotUsable(f"{python} failed: {proc.stderr.strip()[:200]}")
    try:
        paths = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise PythonNotUsable(f"{python} did not report its site-packages") from None
    return [p for p in paths if isinstance(p, str) and os.path.isdir(p)]


@cache
def _classifiers() -> dict[str, str | None]:
    return load_json("licenses", "pypi-classifiers.json")["classifiers"]


def metadata_license(headers: dict[str, list[str]]) -> License | None:
    """License-Expression, else a License field that is an SPDX expression or a known text, else classifiers."""
    if expr_raw := next(iter(headers.get("license-expression", [])), None):
        expr = spdx_expression(expr_raw)
        return License(expression=expr) if expr else License(name=expr_raw.strip()[:200])
    raw = next(iter(headers.get("license", [])), "").strip()
    if raw.upper() in ("UNKNOWN", "NONE"):
        raw = ""
    if raw and (expr := spdx_expression(raw)):
        return License(expression=expr)
    if raw and len(raw) > 200 and (found := identify_text(raw)) is not None and found.expression:
        return found
    ids, names = [], []
    for classifier in headers.get("classifier", []):
        classifier = " ".join(classifier.split())
        if classifier.startswith("License ::"):
            spdx = _classifiers().get(classifier)
            (ids.append(spdx) if spdx else names.append(classifier))
    if ids and not names:
        return License(expression=" OR ".join(dict.fromkeys(ids)))
    if raw:
        return License(name=raw.splitlines()[0][:200])
    if names or ids:
        return License(name=" | ".join(names + ids)[:200])
    return None


def read_metadata(path: str) -> dict[str, list[str]] | None:
    """The header block of a METADATA file, lower-cased keys to all their values."""
    try:
        probe, _ = Probe.from_file(os.path.basename(path), path)
        data = probe.read(0, min(probe.size, MAX_METADATA_BYTES))
    except ReadError:
        return None
    text = data.decode("utf-8", errors="replace")
    head = text.split("\n\n", 1)[0]
    from email.parser import HeaderParser

    msg = HeaderParser().parsestr(head + "\n")
    headers: dict[str, list[str]] = {}
    for key, value in msg.items():
        headers.setdefault(key.lower(), []).append(str(value))
    return headers


def _requires(values: list[str]) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for value in values:
        try:
            req = Requirement(value)
        except InvalidRequirement:
            continue
        if req.marker and "extra" in str(req.marker):
            continue
        names.append(canonicalize_name(req.name))
    return names


def read_site_packages(site_dir: str, inside: str | None = None) -> list[Distribution]:
    """Every `*.dist-info` in `site_dir`. With `inside`, entries resolving outside it are ignored."""
    try:
        names = sorted(n for n in os.listdir(site_dir) if n.endswith(".dist-info"))
    except OSError:
        return []
    dists = []
    for name in names[:MAX_DISTRIBUTIONS]:
        meta = os.path.join(site_dir, name, "METADATA")
        if inside is not None and not os.path.realpath(meta).startswith(inside.rstrip(os.sep) + os.sep):
            continue
        headers = read_metadata(meta)
        if headers is None or not headers.get("name"):
            continue
        dists.append(
            Distribution(
                name=headers["name"][0].strip(),
                version=(headers.get("version") or [None])[0],
                license=metadata_license(headers),
                requires=_requires(headers.get("requires-dist", [])),
                metadata_path=meta,
            )
        )
    return dists
