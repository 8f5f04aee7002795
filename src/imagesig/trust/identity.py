"""The ``signedIdentity`` rules: does a signed reference vouch for this image?

One small class per rule of signatures.md §4, registered by its policy name, as
containers/image does; ``parse_identity_rule`` reads the policy-file form
strictly. ``image`` is the reference the image is being used as (None when the
image has no docker identity), ``signed`` the payload's
``critical.identity.docker-reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from imagesig.trust.errors import InvalidIdentityRule, InvalidReference
from imagesig.trust.reference import (
    DOMAIN_RE,
    NAME_RE,
    Reference,
    parse_normalized,
    parse_reference,
)
from imagesig.trust.strictjson import join_path, type_name


class IdentityRule(Protocol):
    """A rule deciding whether a signed identity matches an image."""

    name: ClassVar[str]

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        """True when ``signed`` vouches for ``image`` under this rule."""
        ...


def _repo_digest_or_exact(image: Reference | None, signed: Reference) -> bool:
    if image is None or signed.is_name_only:
        return False
    if image.tag is not None:
        return str(signed) == str(image)
    if image.digest is not None:
        # The image's digest is checked against the manifest elsewhere, and the
        # signed digest against the manifest too; only the repository is left.
        return signed.repository == image.repository
    return False


@dataclass(frozen=True, slots=True)
class MatchExact:
    """Both carry a tag or digest and are identical."""

    name: ClassVar[str] = "matchExact"

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        if image is None or image.is_name_only or signed.is_name_only:
            return False
        return str(signed) == str(image)


@dataclass(frozen=True, slots=True)
class MatchRepoDigestOrExact:
    """Exact for a tagged image; same repository for a digest-only image (the default)."""

    name: ClassVar[str] = "matchRepoDigestOrExact"

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        return _repo_digest_or_exact(image, signed)


@dataclass(frozen=True, slots=True)
class MatchRepository:
    """Same repository; tags and digests are ignored."""

    name: ClassVar[str] = "matchRepository"

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        return image is not None and signed.repository == image.repository


@dataclass(frozen=True, slots=True)
class ExactReference:
    """The signed reference is exactly ``docker_reference``, whatever the image is."""

    docker_reference: Reference
    name: ClassVar[str] = "exactReference"

    def __post_init__(self) -> None:
        if self.docker_reference.is_name_only:
            raise InvalidIdentityRule(
                f'dockerReference "{self.docker_reference}" has neither a tag nor a digest'
            )

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        return not signed.is_name_only and str(signed) == str(self.docker_reference)


@dataclass(frozen=True, slots=True)
class ExactRepository:
    """The signed reference is in repository ``docker_repository``, whatever the image is."""

    docker_repository: Reference
    name: ClassVar[str] = "exactRepository"

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        return signed.repository == self.docker_repository.repository


def _check_prefix(value: str, what: str) -> None:
    # As containers/image: a registry, or a name whose first component is a registry.
    first, slash, _ = value.partition("/")
    if DOMAIN_RE.fullmatch(value) or (
        slash and NAME_RE.fullmatch(value) and DOMAIN_RE.fullmatch(first)
    ):
        return
    raise InvalidIdentityRule(f'{what} "{value}" is not a registry, namespace or repository')


@dataclass(frozen=True, slots=True)
class RemapIdentity:
    """Rewrite the image's ``prefix`` to ``signed_prefix``, then ``matchRepoDigestOrExact``."""

    prefix: str
    signed_prefix: str
    name: ClassVar[str] = "remapIdentity"

    def __post_init__(self) -> None:
        _check_prefix(self.prefix, "prefix")
        _check_prefix(self.signed_prefix, "signedPrefix")

    def remap(self, image: Reference) -> Reference | None:
        """The image's reference with the prefix replaced; None when the result is invalid."""
        name = image.repository
        if not (name == self.prefix or name.startswith(self.prefix + "/")):
            return image
        rewritten = self.signed_prefix + str(image)[len(self.prefix) :]
        try:
            return parse_normalized(rewritten)
        except InvalidReference:
            return None

    def matches(self, image: Reference | None, signed: Reference) -> bool:
        if image is None:
            return False
        return _repo_digest_or_exact(self.remap(image), signed)


IDENTITY_RULES: dict[str, type[IdentityRule]] = {
    rule.name: rule
    for rule in (
        MatchExact,
        MatchRepoDigestOrExact,
        MatchRepository,
        ExactReference,
        ExactRepository,
        RemapIdentity,
    )
}

DEFAULT_IDENTITY_RULE: IdentityRule = MatchRepoDigestOrExact()

# The members each rule takes besides "type".
_MEMBERS: dict[str, tuple[str, ...]] = {
    "matchExact": (),
    "matchRepoDigestOrExact": (),
    "matchRepository": (),
    "exactReference": ("dockerReference",),
    "exactRepository": ("dockerRepository",),
    "remapIdentity": ("prefix", "signedPrefix"),
}


def _string_member(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise InvalidIdentityRule(
            f"{join_path(path, key)}: expected a string, got {type_name(value)}"
        )
    return value


def _reference_member(obj: dict[str, Any], key: str, path: str) -> Reference:
    try:
        return parse_reference(_string_member(obj, key, path))
    except InvalidReference as exc:
        raise InvalidIdentityRule(f"{join_path(path, key)}: {exc}") from None


def parse_identity_rule(value: object, path: str = "signedIdentity") -> IdentityRule:
    """Build a rule from its JSON object form; errors name the place, e.g. ``signedIdentity.type``."""
    if not isinstance(value, dict):
        raise InvalidIdentityRule(f"{path}: expected an object, got {type_name(value)}")
    if "type" not in value:
        raise InvalidIdentityRule(f'{path}: missing member "type"')
    kind = value["type"]
    if not isinstance(kind, str):
        raise InvalidIdentityRule(f"{path}.type: expected a string, got {type_name(kind)}")
    if kind not in _MEMBERS:
        known = ", ".join(_MEMBERS)
        raise InvalidIdentityRule(f'{path}.type: unknown identity rule "{kind}" (known: {known})')
    members = _MEMBERS[kind]
    for key in value:
        if key != "type" and key not in members:
            raise InvalidIdentityRule(f'{path}: unexpected member "{key}" for {kind}')
    for key in members:
        if key not in value:
            raise InvalidIdentityRule(f'{path}: missing member "{key}" for {kind}')
    rule: IdentityRule
    if kind == "exactReference":
        reference = _reference_member(value, "dockerReference", path)
        rule_args: tuple[Any, ...] = (reference,)
    elif kind == "exactRepository":
        rule_args = (_reference_member(value, "dockerRepository", path),)
    elif kind == "remapIdentity":
        rule_args = (
            _string_member(value, "prefix", path),
            _string_member(value, "signedPrefix", path),
        )
    else:
        rule_args = ()
    try:
        rule = IDENTITY_RULES[kind](*rule_args)
    except InvalidIdentityRule as exc:
        raise InvalidIdentityRule(f"{path}: {exc}") from None
    return rule
