"""Docker references and digests, parsed exactly as docker/distribution does.

Signed identities are compared as normalized strings, so the normalization has
to be the peer's: ``busybox`` is ``docker.io/library/busybox``, a first
component is a registry only when it looks like one, and no default tag is
ever added (``testing/manifest`` is not ``testing/manifest:latest``).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

from imagesig.trust.errors import InvalidReference

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DEFAULT_DOMAIN = "index.docker.io"
_OFFICIAL_REPO_PREFIX = "library/"
_NAME_TOTAL_LENGTH_MAX = 255

# Hex lengths of the algorithms go-digest knows (containers/image links all three).
DIGEST_ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|{_IPV6})(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

DOMAIN_RE = re.compile(_DOMAIN)
PATH_RE = re.compile(_PATH)
NAME_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_SYNTAX_RE = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_ENCODED_RE = {name: re.compile(f"[a-f0-9]{{{n}}}") for name, n in DIGEST_ALGORITHMS.items()}


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized docker reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """The name without tag or digest (docker/distribution's ``Name()``)."""
        return f"{self.domain}/{self.path}"

    @property
    def is_name_only(self) -> bool:
        """True when the reference carries neither a tag nor a digest."""
        return self.tag is None and self.digest is None

    def __str__(self) -> str:
        text = self.repository
        if self.tag is not None:
            text += ":" + self.tag
        if self.digest is not None:
            text += "@" + self.digest
        return text


def parse_digest(text: str) -> str:
    """Validate ``algorithm:hex`` (sha256, sha384 or sha512, lower-case hex) and return it."""
    if not isinstance(text, str):
        raise InvalidReference(f"digest must be a string, got {type(text).__name__}")
    algorithm, sep, encoded = text.partition(":")
    if not sep:
        raise InvalidReference(f'invalid digest "{text}": expected algorithm:hex')
    pattern = _ENCODED_RE.get(algorithm)
    if pattern is None:
        raise InvalidReference(f'invalid digest "{text}": unsupported algorithm "{algorithm}"')
    if pattern.fullmatch(encoded) is None:
        length = DIGEST_ALGORITHMS[algorithm]
        raise InvalidReference(
            f'invalid digest "{text}": {algorithm} needs {length} lower-case hex digits'
        )
    return text


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The digest of ``data`` in ``algorithm:hex`` form (as an image's name)."""
    if algorithm not in DIGEST_ALGORITHMS:
        raise InvalidReference(f'unsupported digest algorithm "{algorithm}"')
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or ("." not in first and ":" not in first and first != "localhost"):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == _LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = _OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_reference(text: str) -> Reference:
    """Parse and normalize a docker reference (``ParseNormalizedNamed``).

    Raises ``InvalidReference`` with a message saying what is wrong.
    """
    if not isinstance(text, str):
        raise InvalidReference(f"reference must be a string, got {type(text).__name__}")
    return _parse_reference(text)


# The same few references recur in every payload and policy check; results are
# immutable, and only successful parses are kept.
@functools.lru_cache(maxsize=4096)
def _parse_reference(text: str) -> Reference:
    if not text:
        raise InvalidReference("reference is empty")
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            f'invalid reference "{text}": a 64-digit hexadecimal string is an image ID, not a name'
        )
    domain, remainder = _split_domain(text)
    name_part, at, digest = remainder.partition("@")
    path, colon, tag = name_part.partition(":")
    if path.lower() != path:
        raise InvalidReference(f'invalid reference "{text}": repository name must be lowercase')
    if not DOMAIN_RE.fullmatch(domain):
        raise InvalidReference(f'invalid reference "{text}": invalid registry "{domain}"')
    if not PATH_RE.fullmatch(path):
        raise InvalidReference(f'invalid reference "{text}": invalid repository path "{path}"')
    if len(domain) + 1 + len(path) > _NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f'invalid reference "{text}": name longer than {_NAME_TOTAL_LENGTH_MAX} characters'
        )
    if colon and not _TAG_RE.fullmatch(tag):
        raise InvalidReference(f'invalid reference "{text}": invalid tag "{tag}"')
    if at:
        if not _DIGEST_SYNTAX_RE.fullmatch(digest):
            raise InvalidReference(f'invalid reference "{text}": invalid digest "{digest}"')
        try:
            parse_digest(digest)
        except InvalidReference as exc:
            raise InvalidReference(f'invalid reference "{text}": {exc}') from None
    return Reference(
        domain=domain,
        path=path,
        tag=tag if colon else None,
        digest=digest if at else None,
    )


def parse_normalized(text: str) -> Reference:
    """Parse a reference that must already be in normalized form (``ParseNamed``)."""
    ref = parse_reference(text)
    if str(ref) != text:
        raise InvalidReference(f'reference "{text}" is not in normalized form ("{ref}")')
    return ref
