"""The errors of the trust library, in one small hierarchy.

Callers that only care whether input was acceptable catch ``TrustError``; each
message names the offending place so it can be shown to the person who wrote it.
Verification itself never raises: it returns a ``Verdict``.
"""

from __future__ import annotations


class TrustError(ValueError):
    """Base class: some input to the trust library was not acceptable."""


class InvalidReference(TrustError):
    """A docker reference or digest that the docker/distribution grammar rejects."""


class MalformedPayload(TrustError):
    """A simple-signing payload that is not exactly the format of signatures.md §3."""


class InvalidIdentityRule(TrustError):
    """A ``signedIdentity`` object that is not one of the known rules, or is malformed."""


class KeyringError(TrustError):
    """Trusted keys that could not be read: missing, unreadable, empty or not OpenPGP."""


class SigningError(TrustError):
    """A payload could not be signed with the given key."""
