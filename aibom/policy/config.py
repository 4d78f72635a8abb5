"""The policy file (`--policy FILE`, TOML or YAML), validated against schemas/policy.schema.json."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..resources import data_dir

MAX_POLICY_BYTES = 1 << 20


class PolicyError(ValueError):
    """The policy file cannot be used; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Waiver:
    rule: str
    path: str  # a glob over the finding's location (or its component ref)
    reason: str
    expires: date | None = None

    def matches(self, rule: str, location: str | None, component: str | None) -> bool:
        if rule != self.rule and self.rule != "*":
            return False
        return any(x is not None and fnmatch.fnmatchcase(x, self.path) for x in (location, component))


@dataclass
class PolicyConfig:
    disabled: frozenset[str] = frozenset()
    severities: dict[str, str] = field(default_factory=dict)
    allow: frozenset[str] = frozenset()  # SPDX ids / AI license keys: never an unknown-license finding
    deny: frozenset[str] = frozenset()  # SPDX ids / AI license keys: always an error
    waivers: list[Waiver] = field(default_factory=list)
    release_license: str | None = None
    distribution: str = "full"  # full | weights-only | hosted
    commercial: bool = True
    min_openness: str | None = None
    source: str | None = None


def _schema() -> dict[str, Any]:
    return json.loads((data_dir("schemas") / "policy.schema.json").read_text(encoding="utf-8"))


def _parse(path: Path) -> Any:
    try:
        raw = path.read_bytes()[: MAX_POLICY_BYTES + 1]
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: policy file is larger than {MAX_POLICY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: policy file is not UTF-8") from None
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as exc:
            raise PolicyError(f"{path}: invalid TOML: {str(exc)[:200]}") from None
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("aibom", {})
        return data
    if path.suffix.lower() in (".yaml", ".yml"):
        return _yaml(path, text)
    raise PolicyError(f"{path}: policy file must end in .toml, .yaml or .yml")


def _yaml(path: Path, text: str) -> Any:
    import yaml  # only needed for YAML policy files

    class NoAliases(yaml.SafeLoader):
        """Anchors and aliases are refused: a few lines of aliases can stand for billions of nodes."""

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases (*name) are not allowed in a policy file")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliases) or {}
    except (yaml.YAMLError, RecursionError) as exc:
        raise PolicyError(
            f"{path}: invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def discover(folder: Path) -> Path | None:
    """The policy a checked folder carries: `aibom.toml`, else `[tool.aibom]` in `pyproject.toml`, else none."""
    own = folder / "aibom.toml"
    if own.is_file():
        return own
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        raw = pyproject.read_bytes()[: MAX_POLICY_BYTES + 1]
        data = tomllib.loads(raw.decode("utf-8")) if len(raw) <= MAX_POLICY_BYTES else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None  # the project's packaging file, not a policy: other tools report its problems
    return pyproject if "aibom" in data.get("tool", {}) else None


def load(path: Path) -> PolicyConfig:
    data = _parse(path)
    import jsonschema  # loads only when there is a policy file to check

    validator = jsonschema.Draft202012Validator(_schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise PolicyError(f"{path}: {key}: {err.message}")
    release = data.get("release", {})
    rules = data.get("rules", {})
    waivers = [
        Waiver(w["rule"], w["path"], w["reason"], date.fromisoformat(w["expires"]) if "expires" in w else None)
        for w in data.get("waivers", [])
    ]
    return PolicyConfig(
        disabled=frozenset(r for r, v in rules.items() if v == "off"),
        severities={r: v for r, v in rules.items() if v != "off"},
        allow=frozenset(x.lower() for x in data.get("licenses", {}).get("allow", [])),
        deny=frozenset(x.lower() for x in data.get("licenses", {}).get("deny", [])),
        waivers=waivers,
        release_license=release.get("license"),
        distribution=release.get("distribution", "full"),
        commercial=release.get("commercial", True),
        min_openness=release.get("min-openness"),
        source=str(path),
    )
