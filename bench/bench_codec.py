"""Encode and decode rates of the protobuf codec against JSON, on one Image.

The Image carries 10 signatures, each with conditions, signed claims and ~600 bytes
of content. Each codec turns the same JSON-shaped dict into bytes and back; times
are medians over several rounds, printed as ratios against msgspec.json measured in
the same run. No assertions: this reports, it does not gate.

    .venv/bin/python bench/bench_codec.py [--rounds N]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from imagesig.api import protobuf


def _signature(index: int) -> dict[str, Any]:
    content = base64.b64encode(os.urandom(600)).decode()
    return {
        "metadata": {
            "name": f"sha256:{'ab' * 32}@{index:032x}",
            "uid": f"6a1e9f1c-0000-4000-8000-{index:012d}",
            "creationTimestamp": "2018-06-01T12:00:00Z",
        },
        "type": "atomic",
        "content": content,
        "conditions": [
            {
                "type": "Trusted",
                "status": "True",
                "lastProbeTime": "2018-06-01T12:00:00Z",
                "lastTransitionTime": "2018-06-01T12:00:00Z",
                "reason": "Verified",
                "message": "signed by a trusted key",
            },
            {
                "type": "ForImage",
                "status": "True",
                "lastProbeTime": "2018-06-01T12:00:00Z",
                "lastTransitionTime": None,
            },
        ],
        "imageIdentity": "registry.example.com/team/app:1.0",
        "signedClaims": {
            "creator": "atomic 2.0.0",
            "timestamp": "1527854400",
            "manifestDigest": f"sha256:{'ab' * 32}",
        },
        "created": "2018-06-01T11:59:59Z",
        "issuedBy": {"organization": "Example", "commonName": "Release signing"},
        "issuedTo": {"commonName": "release@example.com", "publicKeyID": "0x685ebe62bf278440"},
    }


IMAGE: dict[str, Any] = {
    "kind": "Image",
    "apiVersion": "image.openshift.io/v1",
    "metadata": {
        "name": f"sha256:{'ab' * 32}",
        "uid": "6a1e9f1c-0000-4000-8000-000000000000",
        "resourceVersion": "12345",
        "creationTimestamp": "2018-06-01T12:00:00Z",
        "annotations": {"image.openshift.io/dockerLayersOrder": "ascending"},
    },
    "dockerImageReference": f"registry.example.com/team/app@sha256:{'ab' * 32}",
    "dockerImageMetadata": {
        "kind": "DockerImage",
        "apiVersion": "1.0",
        "Id": f"sha256:{'cd' * 32}",
        "Created": "2018-06-01T12:00:00Z",
        "Architecture": "amd64",
        "Size": 73109432,
    },
    "dockerImageMetadataVersion": "1.0",
    "dockerImageLayers": [
        {
            "name": f"sha256:{n:064x}",
            "size": 1000 * n,
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        }
        for n in range(1, 6)
    ],
    "signatures": [_signature(i) for i in range(10)],
    "dockerImageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
}


def _per_call(fn: Callable[[], object], rounds: int, budget: float = 0.2) -> float:
    """Median seconds per call over `rounds` rounds of about `budget` seconds each."""
    calls, elapsed = 1, 0.0
    while elapsed < budget / 4:
        calls *= 2
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
    calls = max(1, round(calls * budget / elapsed))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds

    msgspec_encoder = msgspec.json.Encoder()
    msgspec_decoder = msgspec.json.Decoder()
    codecs: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
        "msgspec.json": (msgspec_encoder.encode, msgspec_decoder.decode),
        "json (stdlib)": (lambda obj: json.dumps(obj).encode(), json.loads),
        "protobuf": (protobuf.encode, protobuf.decode),
    }
    results: dict[str, tuple[int, float, float]] = {}
    for name, (encode, decode) in codecs.items():
        data = encode(IMAGE)
        assert decode(data) == IMAGE, name  # every codec carries the same object
        results[name] = (
            len(data),
            _per_call(lambda: encode(IMAGE), rounds),  # noqa: B023 - used at once
            _per_call(lambda: decode(data), rounds),  # noqa: B023
        )

    _, base_encode, base_decode = results["msgspec.json"]
    print(f"Image with 10 signatures, median of {rounds} rounds; ratio = time / msgspec.json")
    print(
        f"{'codec':<14} {'bytes':>7} {'encode µs':>10} {'ratio':>6} {'decode µs':>10} {'ratio':>6}"
    )
    for name, (size, encode_time, decode_time) in results.items():
        print(
            f"{name:<14} {size:>7} {encode_time * 1e6:>10.1f} {encode_time / base_encode:>6.1f}"
            f" {decode_time * 1e6:>10.1f} {decode_time / base_decode:>6.1f}"
        )
    _, json_encode, json_decode = results["json (stdlib)"]
    _, pb_encode, pb_decode = results["protobuf"]
    print(
        f"protobuf vs stdlib json: encode {pb_encode / json_encode:.2f}x the time, "
        f"decode {pb_decode / json_decode:.2f}x the time"
    )


if __name__ == "__main__":
    main()
