"""Join declared, locked and installed Python dependencies into one set of library components.

- installed distributions (in-tree virtualenvs, `--python` interpreters) add versions, licenses and
  `Requires-Dist` edges;
- a declaration without a version (`numpy>=1.26`) folds into the single resolved version of that
  package when there is exactly one, so a package appears once;
- transitive packages inherit the scope of the direct dependencies that pull them in.
"""

from __future__ import annotations

import os
from collections import deque

from packageurl import PackageURL

from ..inventory import Artifact, Inventory, Kind
from .environment import Distribution, read_site_packages, site_packages_of_env, site_packages_of_python
from .model import DIRECT, SCOPE, SCOPE_RANK, SOURCE, canonicalize_name, dependency, merge_dependency


def _key(artifact: Artifact) -> tuple[str, str] | None:
    if artifact.kind is not Kind.LIBRARY or not artifact.purl:
        return None
    purl = PackageURL.from_string(artifact.purl)
    return (purl.type, purl.name)


def _is_plain_unversioned(artifact: Artifact) -> bool:
    return not artifact.version and artifact.purl is not None and "?" not in artifact.purl


def environment_artifacts(dists: list[Distribution], source: str, root: str | None) -> list[Artifact]:
    """Library artifacts for installed distributions, with their Requires-Dist edges."""
    arts: dict[str, Artifact] = {}
    for dist in dists:
        location = None
        if root is not None:
            location = os.path.relpath(dist.metadata_path, root).replace(os.sep, "/")
        art = dependency(dist.name, dist.version, location=location or source, direct=False)
        if location is None:
            art.evidence.clear()
        art.properties[SOURCE] = source
        art.properties["aibom:dependency:installed"] = "true"
        if dist.license is not None:
            dist.license.source = location
            art.licenses = [dist.license]
        arts.setdefault(art.name, art)
    for dist in dists:
        art = arts.get(canonicalize_name(dist.name))
        if art is None:
            continue
        for req in dist.requires:
            target = arts.get(req)
            if target is not None and target.ref != art.ref and target.ref not in art.depends_on:
                art.depends_on.append(target.ref)
    return list(arts.values())


def installed(inv: Inventory, root: str, pythons: tuple[str, ...]) -> list[Artifact]:
    """Artifacts for everything installed in the tree's environments and the given interpreters."""
    out: list[Artifact] = []
    for env in inv.environments:
        env_dir = os.path.join(root, env)
        dists: list[Distribution] = []
        for site in site_packages_of_env(env_dir):
            dists += read_site_packages(site, inside=root)
        out += environment_artifacts(dists, f"environment:{env}", root)
    for python in pythons:
        dists = []
        for site in site_packages_of_python(python):
            dists += read_site_packages(site)
        out += environment_artifacts(dists, f"python:{python}", None)
    return out


def fold_unversioned(artifacts: dict[str, Artifact]) -> None:
    """Merge each unversioned declaration into the one resolved version of the same package, if unique."""
    versions: dict[tuple[str, str], list[Artifact]] = {}
    for art in artifacts.values():
        if (key := _key(art)) and art.version:
            versions.setdefault(key, []).append(art)
    renamed: dict[str, str] = {}
    for ref, art in list(artifacts.items()):
        key = _key(art)
        if key is None or not _is_plain_unversioned(art):
            continue
        resolved = versions.get(key, [])
        if len(resolved) == 1:
            merge_dependency(resolved[0], art)
            renamed[ref] = resolved[0].ref
            del artifacts[ref]
    if renamed:
        for art in artifacts.values():
            if not art.depends_on:
                continue
            refs = (renamed.get(r, r) for r in art.depends_on)
            art.depends_on = list(dict.fromkeys(r for r in refs if r != art.ref))


def propagate_scopes(artifacts: dict[str, Artifact]) -> None:
    """Unscoped packages reached from direct ones take the strongest scope that reaches them."""
    direct = [a for a in artifacts.values() if a.properties.get(DIRECT) == "true" and a.properties.get(SCOPE)]
    direct.sort(key=lambda a: -SCOPE_RANK[a.properties[SCOPE]])
    for start in direct:
        scope = start.properties[SCOPE]
        queue = deque(start.depends_on)
        seen = {start.ref}
        while queue:
            ref = queue.popleft()
            if ref in seen or ref not in artifacts:
                continue
            seen.add(ref)
            node = artifacts[ref]
            if node.properties.get(SCOPE):
                continue
            node.properties[SCOPE] = scope
            queue.extend(node.depends_on)


def resolve_dependencies(inv: Inventory, root: str, pythons: tuple[str, ...] = ()) -> None:
    """Add installed packages, fold declarations into resolved versions, spread scopes. In place."""
    artifacts: dict[str, Artifact] = {}
    for art in inv.artifacts:
        artifacts[art.ref] = art
    for art in installed(inv, root, pythons):
        if art.ref in artifacts:
            merge_dependency(artifacts[art.ref], art)
        else:
            artifacts[art.ref] = art
    fold_unversioned(artifacts)
    propagate_scopes(artifacts)
    inv.artifacts = list(artifacts.values())
