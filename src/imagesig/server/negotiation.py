"""Accept negotiation as the Kubernetes API server does it.

Entries are tried by weight (``q``), then in the order given; the first the
endpoint can produce wins. Entries with parameters the server does not honour
(``as=Table``, another discovery version) are skipped; ``*/*`` or no Accept
means JSON; 406 only when nothing matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from imagesig.api import errors
from imagesig.api.codec import JSON, PROTOBUF, YAML

OBJECT_TYPES = (JSON, YAML, PROTOBUF)
DOCUMENT_TYPES = (JSON, YAML)  # discovery, OpenAPI, watch: no protobuf form

DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@dataclass(frozen=True, slots=True)
class MediaRange:
    type: str
    params: dict[str, str]
    q: float
    order: int


def parse_accept(header: str) -> list[MediaRange]:
    ranges: list[MediaRange] = []
    for order, raw in enumerate(header.split(",")):
        parts = [p.strip() for p in raw.split(";")]
        if not parts[0]:
            continue
        params: dict[str, str] = {}
        q = 1.0
        for p in parts[1:]:
            key, _, value = p.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        if q > 0:
            ranges.append(MediaRange(parts[0].lower(), params, q, order))
    ranges.sort(key=lambda r: (-r.q, r.order))
    return ranges


_IGNORED_PARAMS = {"charset", "pretty", "stream"}


def choose(accept: str | None, offers: Sequence[str]) -> str:
    """The media type to answer with, from ``offers``; raises 406."""
    if not accept or not accept.strip():
        return offers[0]
    for r in parse_accept(accept):
        if set(r.params) - _IGNORED_PARAMS:
            continue  # as=Table, g/v/as of discovery: not produced here
        if r.type in ("*/*", "application/*"):
            return offers[0]
        if r.type in offers:
            return r.type
    raise errors.not_acceptable(offers)


def wants_discovery_v2(accept: str | None) -> bool:
    """Whether the aggregated discovery form is acceptable before plain JSON."""
    if not accept:
        return False
    for r in parse_accept(accept):
        if (
            r.type == "application/json"
            and r.params.get("g") == "apidiscovery.k8s.io"
            and r.params.get("v") == "v2"
            and r.params.get("as") == "APIGroupDiscoveryList"
        ):
            return True
        if r.type in ("application/json", "*/*", "application/*") and not r.params:
            return False
    return False
