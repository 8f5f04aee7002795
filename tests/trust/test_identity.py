"""Each signedIdentity rule decides as containers/image decides; the parser is strict."""

from __future__ import annotations

import pytest

from imagesig.trust import (
    IDENTITY_RULES,
    ExactReference,
    ExactRepository,
    IdentityRule,
    InvalidIdentityRule,
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    RemapIdentity,
    parse_identity_rule,
    parse_reference,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _decide(rule: IdentityRule, image: str | None, signed: str) -> bool:
    return rule.matches(None if image is None else parse_reference(image), parse_reference(signed))


@pytest.mark.parametrize(
    ("image", "signed", "expected"),
    [
        ("a.com/ns/app:v1", "a.com/ns/app:v1", True),
        ("busybox:1", "docker.io/library/busybox:1", True),
        (f"a.com/ns/app@{D1}", f"a.com/ns/app@{D1}", True),
        ("a.com/ns/app:v1", "a.com/ns/app:v2", False),
        ("a.com/ns/app", "a.com/ns/app", False),
        ("a.com/ns/app:v1", "a.com/ns/app", False),
        ("a.com/ns/app", "a.com/ns/app:v1", False),
        (f"a.com/ns/app@{D1}", "a.com/ns/app:v1", False),
        ("testing/manifest:latest", "testing/manifest", False),
        (None, "a.com/ns/app:v1", False),
    ],
)
def test_match_exact(image: str | None, signed: str, expected: bool) -> None:
    assert _decide(MatchExact(), image, signed) is expected


@pytest.mark.parametrize(
    ("image", "signed", "expected"),
    [
        ("a.com/ns/app:v1", "a.com/ns/app:v1", True),
        ("a.com/ns/app:v1", "a.com/ns/app:v2", False),
        (f"a.com/ns/app@{D1}", "a.com/ns/app:v1", True),
        (f"a.com/ns/app@{D1}", f"a.com/ns/app@{D2}", True),
        (f"a.com/ns/app@{D1}", "a.com/ns/other:v1", False),
        (f"a.com/ns/app:v1@{D1}", f"a.com/ns/app:v1@{D1}", True),
        (f"a.com/ns/app:v1@{D1}", "a.com/ns/app:v1", False),
        ("a.com/ns/app", "a.com/ns/app:v1", False),
        (f"a.com/ns/app@{D1}", "a.com/ns/app", False),
        ("testing/manifest:latest", "testing/manifest", False),
        (None, "a.com/ns/app:v1", False),
    ],
)
def test_match_repo_digest_or_exact(image: str | None, signed: str, expected: bool) -> None:
    assert _decide(MatchRepoDigestOrExact(), image, signed) is expected


@pytest.mark.parametrize(
    ("image", "signed", "expected"),
    [
        ("a.com/ns/app:v1", "a.com/ns/app:v2", True),
        ("a.com/ns/app", "a.com/ns/app", True),
        (f"a.com/ns/app@{D1}", "a.com/ns/app:v9", True),
        ("busybox", "docker.io/library/busybox:1", True),
        ("a.com/ns/app:v1", "a.com/ns/other:v1", False),
        ("a.com/ns/app:v1", "b.com/ns/app:v1", False),
        (None, "a.com/ns/app:v1", False),
    ],
)
def test_match_repository(image: str | None, signed: str, expected: bool) -> None:
    assert _decide(MatchRepository(), image, signed) is expected


@pytest.mark.parametrize(
    ("image", "signed", "expected"),
    [
        ("x.com/anything:v1", "a.com/ns/app:v1", True),
        (None, "a.com/ns/app:v1", True),
        ("a.com/ns/app:v1", "a.com/ns/app:v2", False),
        ("a.com/ns/app:v1", "a.com/ns/app", False),
    ],
)
def test_exact_reference(image: str | None, signed: str, expected: bool) -> None:
    rule = ExactReference(parse_reference("a.com/ns/app:v1"))
    assert _decide(rule, image, signed) is expected


def test_exact_reference_requires_a_tag_or_digest() -> None:
    with pytest.raises(InvalidIdentityRule, match="neither a tag nor a digest"):
        ExactReference(parse_reference("a.com/ns/app"))


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        ("a.com/ns/app:v1", True),
        (f"a.com/ns/app@{D1}", True),
        ("a.com/ns/app", True),
        ("a.com/ns/other:v1", False),
    ],
)
def test_exact_repository(signed: str, expected: bool) -> None:
    rule = ExactRepository(parse_reference("a.com/ns/app"))
    assert _decide(rule, "z.com/unrelated:v1", signed) is expected


MIRROR = RemapIdentity("mirror.example.com/upstream", "docker.io/library")


@pytest.mark.parametrize(
    ("rule", "image", "signed", "expected"),
    [
        (MIRROR, "mirror.example.com/upstream/busybox:1", "busybox:1", True),
        (MIRROR, "mirror.example.com/upstream/busybox:1", "busybox:2", False),
        (
            MIRROR,
            "mirror.example.com/upstream/busybox:1",
            "mirror.example.com/upstream/busybox:1",
            False,
        ),
        (MIRROR, f"mirror.example.com/upstream/busybox@{D1}", "busybox:any", True),
        (
            MIRROR,
            "mirror.example.com/upstreamer/busybox:1",
            "mirror.example.com/upstreamer/busybox:1",
            True,
        ),
        (MIRROR, "mirror.example.com/upstreamer/busybox:1", "busybox:1", False),
        (MIRROR, None, "busybox:1", False),
        (
            RemapIdentity("mirror.example.com", "registry.example.com"),
            f"mirror.example.com/ns/app@{D1}",
            "registry.example.com/ns/app:v1",
            True,
        ),
        (
            RemapIdentity("mirror.example.com/ns/app", "registry.example.com/other/app"),
            "mirror.example.com/ns/app:v1",
            "registry.example.com/other/app:v1",
            True,
        ),
        # The rewrite gives "docker.io/busybox:1", which is not normalized: no match.
        (
            RemapIdentity("mirror.example.com/lib", "docker.io"),
            "mirror.example.com/lib/busybox:1",
            "busybox:1",
            False,
        ),
    ],
)
def test_remap_identity(
    rule: RemapIdentity, image: str | None, signed: str, expected: bool
) -> None:
    assert _decide(rule, image, signed) is expected


@pytest.mark.parametrize(
    "prefix", ["", "*.example.com", "https://example.com", "example.com/", "UPPER.com/Ns"]
)
def test_remap_identity_refuses_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidIdentityRule, match="prefix"):
        RemapIdentity(prefix, "registry.example.com")
    with pytest.raises(InvalidIdentityRule, match="signedPrefix"):
        RemapIdentity("registry.example.com", prefix)


def test_rules_are_registered_by_policy_name() -> None:
    assert set(IDENTITY_RULES) == {
        "matchExact",
        "matchRepoDigestOrExact",
        "matchRepository",
        "exactReference",
        "exactRepository",
        "remapIdentity",
    }


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ({"type": "matchExact"}, MatchExact()),
        ({"type": "matchRepoDigestOrExact"}, MatchRepoDigestOrExact()),
        ({"type": "matchRepository"}, MatchRepository()),
        (
            {"type": "exactReference", "dockerReference": "a.com/x:v1"},
            ExactReference(parse_reference("a.com/x:v1")),
        ),
        (
            {"type": "exactRepository", "dockerRepository": "busybox"},
            ExactRepository(parse_reference("docker.io/library/busybox")),
        ),
        (
            {"type": "remapIdentity", "prefix": "m.com", "signedPrefix": "r.com/ns"},
            RemapIdentity("m.com", "r.com/ns"),
        ),
    ],
)
def test_parser_builds_each_rule(value: object, rule: IdentityRule) -> None:
    assert parse_identity_rule(value) == rule


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("matchExact", "signedIdentity: expected an object, got a string"),
        ({}, 'signedIdentity: missing member "type"'),
        ({"type": 1}, "signedIdentity.type: expected a string, got a number"),
        (
            {"type": "matchEverything"},
            'signedIdentity.type: unknown identity rule "matchEverything"',
        ),
        ({"type": "matchExact", "foo": 1}, 'signedIdentity: unexpected member "foo"'),
        ({"type": "exactReference"}, 'signedIdentity: missing member "dockerReference"'),
        (
            {"type": "exactReference", "dockerReference": ["a"]},
            "signedIdentity.dockerReference: expected a string, got an array",
        ),
        (
            {"type": "exactReference", "dockerReference": "a.com/x"},
            "signedIdentity: dockerReference",
        ),
        (
            {"type": "exactRepository", "dockerRepository": "Bad/Name"},
            "signedIdentity.dockerRepository: ",
        ),
        (
            {"type": "remapIdentity", "prefix": "*.com", "signedPrefix": "r.com"},
            'signedIdentity: prefix "*.com"',
        ),
        ({"type": "remapIdentity", "prefix": "m.com"}, 'missing member "signedPrefix"'),
    ],
)
def test_parser_errors_name_the_place(value: object, message: str) -> None:
    with pytest.raises(InvalidIdentityRule) as info:
        parse_identity_rule(value)
    assert message in str(info.value)


def test_parser_uses_the_given_path() -> None:
    with pytest.raises(InvalidIdentityRule, match=r"^default\[0\]\.signedIdentity\.type: "):
        parse_identity_rule({"type": "x"}, path="default[0].signedIdentity")
