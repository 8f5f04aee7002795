"""Accept negotiation as kube-apiserver does it (clients.md)."""

from __future__ import annotations

import pytest

from imagesig.api.errors import APIError
from imagesig.server.negotiation import DOCUMENT_TYPES, OBJECT_TYPES, choose, wants_discovery_v2

JSON, YAML, PB = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (YAML, YAML),
        (PB, PB),
        (f"{PB}, {JSON}", PB),
        (f"{JSON};q=0.5, {YAML}", YAML),
        (f"{PB};q=0.1, {YAML};q=0.9", YAML),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", JSON),
        ("application/json;as=Table;v=v1;g=meta.k8s.io, application/yaml", YAML),
        ("text/html, */*;q=0.1", JSON),
        ("application/json;charset=utf-8", JSON),
        (f"{YAML};q=0, {JSON}", JSON),
    ],
)
def test_choose_for_objects(accept: str | None, expected: str) -> None:
    assert choose(accept, OBJECT_TYPES) == expected


def test_documents_skip_protobuf_for_the_next_acceptable_type() -> None:
    assert choose(f"{PB}, {JSON}", DOCUMENT_TYPES) == JSON


@pytest.mark.parametrize(
    "accept", ["text/html", PB, "application/json;as=Table;g=meta.k8s.io;v=v1"]
)
def test_406_when_nothing_matches(accept: str) -> None:
    offers = DOCUMENT_TYPES if accept == PB else OBJECT_TYPES
    with pytest.raises(APIError) as info:
        choose(accept, offers)
    assert info.value.code == 406


def test_kubectl_discovery_accept_wants_v2() -> None:
    kubectl = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    assert wants_discovery_v2(kubectl)
    assert not wants_discovery_v2("application/json")
    assert not wants_discovery_v2(None)
