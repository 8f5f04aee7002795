"""Discovery documents: what kubectl and the Python clients read before anything else."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagesig import __version__
from imagesig.api.types import API_VERSION, GROUP, VERSION


@dataclass(frozen=True)
class ResourceInfo:
    name: str
    singular: str
    kind: str
    verbs: tuple[str, ...]


RESOURCES = (
    ResourceInfo(
        "images", "image", "Image", ("create", "delete", "get", "list", "patch", "update", "watch")
    ),
    ResourceInfo("imagesignatures", "imagesignature", "ImageSignature", ("create", "delete")),
)

KUBERNETES_VERSION = ("1", "32")


def version() -> dict[str, Any]:
    major, minor = KUBERNETES_VERSION
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{major}.{minor}.0+imagesig-{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "python",
        "platform": "linux/amd64",
    }


def core_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}


def core_resources() -> dict[str, Any]:
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": []}


def _group_version() -> dict[str, str]:
    return {"groupVersion": API_VERSION, "version": VERSION}


def api_group() -> dict[str, Any]:
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": GROUP,
        "versions": [_group_version()],
        "preferredVersion": _group_version(),
    }


def api_groups() -> dict[str, Any]:
    group = api_group()
    del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]}


def api_resources() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": API_VERSION,
        "resources": [
            {
                "name": r.name,
                "singularName": r.singular,
                "namespaced": False,
                "kind": r.kind,
                "verbs": list(r.verbs),
            }
            for r in RESOURCES
        ],
    }


def aggregated_groups() -> dict[str, Any]:
    """``apidiscovery.k8s.io/v2`` for ``/apis``: every group, version and resource at once."""
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": GROUP, "creationTimestamp": None},
                "versions": [
                    {
                        "version": VERSION,
                        "resources": [
                            {
                                "resource": r.name,
                                "responseKind": {
                                    "group": GROUP,
                                    "version": VERSION,
                                    "kind": r.kind,
                                },
                                "scope": "Cluster",
                                "singularResource": r.singular,
                                "verbs": list(r.verbs),
                            }
                            for r in RESOURCES
                        ],
                        "freshness": "Current",
                    }
                ],
            }
        ],
    }


def aggregated_core() -> dict[str, Any]:
    """``apidiscovery.k8s.io/v2`` for ``/api``: the legacy group, with no resources here."""
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"creationTimestamp": None},
                "versions": [{"version": "v1", "resources": [], "freshness": "Current"}],
            }
        ],
    }
