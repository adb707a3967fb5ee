"""Render a kustomization the way ``kustomize build`` does, for the subset deploy/kubernetes uses.

No kustomize binary comes from PyPI or Debian, so the tests render the overlays themselves: ``resources``
(files and directories), ``namespace``, ``images`` and ``patches`` holding JSON 6902 operations on a
``target`` kind and name. Any other field is an error, so an overlay cannot use a feature this renderer
would silently ignore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"}


class RenderError(Exception):
    """Raised when a kustomization uses a field, patch or target this renderer does not handle."""


def render(directory: Path) -> list[dict[str, Any]]:
    """Return the documents ``kustomize build directory`` would print."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    if unknown := set(spec) - SUPPORTED:
        raise RenderError(f"{directory}: unsupported kustomization fields {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += render(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in spec.get("patches", []):
        apply_patch(directory, patch, docs)
    if namespace := spec.get("namespace"):
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    for image in spec.get("images", []):
        set_image(docs, image)
    return docs


def apply_patch(directory: Path, patch: dict[str, Any], docs: list[dict[str, Any]]) -> None:
    """Apply one JSON 6902 patch to the documents its target names."""
    target = patch["target"]
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    ops = yaml.safe_load(text)
    if not isinstance(ops, list):
        raise RenderError(f"{patch}: only JSON 6902 patches (a list of operations) are rendered")
    matched = [d for d in docs if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"]]
    if not matched:
        raise RenderError(f"patch target {target} matches no resource")
    for doc in matched:
        for op in ops:
            json_patch(doc, op)


def json_patch(doc: dict[str, Any], op: dict[str, Any]) -> None:
    """Apply one RFC 6902 ``add``, ``replace`` or ``remove`` operation in place."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    parent: Any = doc
    for part in parts[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op["op"] == "add":
            parent.insert(index, op["value"])
        elif op["op"] == "replace":
            parent[index] = op["value"]
        else:
            del parent[index]
        return
    if op["op"] in ("replace", "remove") and last not in parent:
        raise RenderError(f"{op['op']} {op['path']}: no such member")
    if op["op"] == "remove":
        del parent[last]
    elif op["op"] in ("add", "replace"):
        parent[last] = op["value"]
    else:
        raise RenderError(f"unsupported operation {op['op']!r}")


def set_image(docs: list[dict[str, Any]], image: dict[str, str]) -> None:
    """Rewrite the containers whose image is ``image['name']`` (any tag) to its newName and newTag."""
    for doc in docs:
        for container in pod_spec(doc).get("containers", []):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """Return a workload's pod spec ({} for kinds without one)."""
    spec: dict[str, Any] = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec
