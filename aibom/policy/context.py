"""What every rule may look at: the inventory plus facts derived from it once (licenses, links, code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..inventory import Artifact, Inventory, Kind, License
from .config import PolicyConfig
from .licensing import LicenseClass, ai_licenses, combined, hub_model_license

#: Evidence in these files means the tree ships source code (training/serving code).
CODE_SUFFIXES = (".py", ".ipynb", ".sh", ".c", ".cc", ".cpp", ".rs", ".go", ".js", ".ts", ".java", ".jl", ".r")
#: Files that declare dependencies: a project with one of these ships code.
MANIFEST_NAMES = ("requirements", "pyproject.toml", "setup.cfg", "setup.py", "environment.yml", "Pipfile", ".lock")


def ancestors(artifact: Artifact) -> list[str]:
    """Base-model refs (`Artifact.ancestors` on the hf-dirs branch; absent on older inventories)."""
    return list(getattr(artifact, "ancestors", None) or [])


def dataset_refs(artifact: Artifact) -> list[str]:
    """Refs of the datasets a model names (`ModelInfo.datasets` on the hf-dirs branch)."""
    refs = list(getattr(artifact.model, "datasets", None) or []) if artifact.model else []
    return list(dict.fromkeys(refs))


def is_external(artifact: Artifact) -> bool:
    return bool(getattr(artifact, "external", False)) or artifact.properties.get("aibom:external") == "true"


@dataclass
class Context:
    inv: Inventory
    config: PolicyConfig = field(default_factory=PolicyConfig)

    @cached_property
    def by_ref(self) -> dict[str, Artifact]:
        return {a.ref: a for a in self.artifacts}

    @cached_property
    def artifacts(self) -> list[Artifact]:
        walk = getattr(self.inv, "all_artifacts", None)
        return list(walk()) if walk else list(self.inv.artifacts)

    @cached_property
    def models(self) -> list[Artifact]:
        """The models the tree ships (top level: a model directory's weight files are parts of one model)."""
        return [a for a in self.inv.artifacts if a.kind is Kind.MODEL and not is_external(a)]

    @cached_property
    def outbound(self) -> LicenseClass | None:
        """The release's license: the policy file's, else the license files at the root."""
        if self.config.release_license:
            return combined([License(expression=self.config.release_license)])
        return combined(self.inv.root_licenses())

    @cached_property
    def code_locations(self) -> list[str]:
        """Root-relative paths showing the tree ships code: source files or dependency manifests."""
        found: set[str] = set()
        for artifact in self.artifacts:
            for ev in artifact.evidence:
                name = ev.location.rsplit("/", 1)[-1]
                if ev.location.lower().endswith(CODE_SUFFIXES) or (
                    artifact.kind is Kind.LIBRARY and any(m in name for m in MANIFEST_NAMES)
                ):
                    found.add(ev.location)
        return sorted(found)

    def license_of(self, artifact: Artifact) -> LicenseClass | None:
        """The artifact's licenses; for a named Hub model with none recorded, the license its repo is known under."""
        if not artifact.licenses and artifact.kind is Kind.MODEL and is_external(artifact):
            key = hub_model_license(artifact.name)
            if key:
                return combined([License(name=ai_licenses()[key]["name"], acknowledgement="concluded")])
        return combined(artifact.licenses)

    def inputs(self, model: Artifact) -> list[Artifact]:
        """Datasets and base models the model was made from, as artifacts (unknown refs are skipped)."""
        refs = dataset_refs(model) + ancestors(model)
        return [self.by_ref[r] for r in dict.fromkeys(refs) if r in self.by_ref]
