"""Docker references normalize as docker/distribution normalizes them; bad ones are refused."""

from __future__ import annotations

import pytest

from imagesig.trust import InvalidReference, digest_of, parse_digest, parse_reference
from imagesig.trust.reference import Reference, parse_normalized

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("busybox", "docker.io/library/busybox"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox"),
        ("docker.io/busybox", "docker.io/library/busybox"),
        ("index.docker.io/busybox", "docker.io/library/busybox"),
        ("testing/manifest", "docker.io/testing/manifest"),
        ("testing/manifest:latest", "docker.io/testing/manifest:latest"),
        ("localhost/a", "localhost/a"),
        ("localhost:5000/a", "localhost:5000/a"),
        ("localhost", "docker.io/library/localhost"),
        ("registry.example.com/ns/app:v1", "registry.example.com/ns/app:v1"),
        ("Registry.Example.com/ns/app", "Registry.Example.com/ns/app"),
        ("host:443/a/b/c", "host:443/a/b/c"),
        ("[::1]:5000/app", "[::1]:5000/app"),
        ("a-b.c-d/e--f_g.h__i:T_1.x-y", "a-b.c-d/e--f_g.h__i:T_1.x-y"),
        (f"quay.io/a/b@{SHA256}", f"quay.io/a/b@{SHA256}"),
        (f"quay.io/a/b:t@{SHA512}", f"quay.io/a/b:t@{SHA512}"),
    ],
)
def test_references_normalize_like_docker_distribution(text: str, normalized: str) -> None:
    assert str(parse_reference(text)) == normalized


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Busybox",
        "docker.io/Library/busybox",
        "example.com/UPPER/app",
        "busybox:",
        ":tag",
        "busybox:-bad",
        "busybox:" + "t" * 129,
        "busybox@sha256:abc",
        f"busybox@sha256:{'A' * 64}",
        f"busybox@md5:{'0' * 32}",
        f"busybox@sha256:{'0' * 63}",
        "a//b",
        "a/b/",
        "-a/b",
        "a_b.com/x",
        "example.com:port/x",
        "0123456789abcdef" * 4,
        "example.com/" + "a" * 250,
        "busybox\n",
        "ns/app:v1 ",
    ],
)
def test_invalid_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(text)


def test_uppercase_path_error_says_lowercase() -> None:
    with pytest.raises(InvalidReference, match="lowercase"):
        parse_reference("Testing/manifest")


def test_no_default_tag_is_ever_added() -> None:
    bare = parse_reference("testing/manifest")
    assert bare == parse_reference("docker.io/testing/manifest")
    assert bare != parse_reference("testing/manifest:latest")
    assert bare.tag is None
    assert bare.is_name_only


def test_reference_parts_and_repository() -> None:
    ref = parse_reference(f"localhost:5000/ns/app:v2@{SHA256}")
    assert ref == Reference("localhost:5000", "ns/app", "v2", SHA256)
    assert ref.repository == "localhost:5000/ns/app"
    assert not ref.is_name_only


def test_parse_normalized_refuses_short_forms() -> None:
    assert str(parse_normalized("docker.io/library/busybox:1")) == "docker.io/library/busybox:1"
    with pytest.raises(InvalidReference, match="normalized"):
        parse_normalized("busybox:1")


@pytest.mark.parametrize("digest", [SHA256, SHA512, "sha384:" + "ab" * 48])
def test_valid_digests_are_accepted(digest: str) -> None:
    assert parse_digest(digest) == digest


@pytest.mark.parametrize(
    "digest",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:" + "A" * 64,
        "sha512:" + "0" * 64,
        "md5:" + "0" * 32,
        "SHA256:" + "0" * 64,
        "sha256:" + "g" * 64,
    ],
)
def test_invalid_digests_are_refused(digest: str) -> None:
    with pytest.raises(InvalidReference):
        parse_digest(digest)


def test_digest_of_hashes_exact_bytes() -> None:
    assert digest_of(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert digest_of(b"x", "sha512").startswith("sha512:")
