"""Simple-signing signatures: verify them, read their claims, match them to images.

The server and the CLI use this package's small public surface, re-exported here.
"""

from imagesig.trust.errors import (
    InvalidIdentityRule,
    InvalidReference,
    KeyringError,
    MalformedPayload,
    SigningError,
    TrustError,
)
from imagesig.trust.identity import (
    DEFAULT_IDENTITY_RULE,
    IDENTITY_RULES,
    ExactReference,
    ExactRepository,
    IdentityRule,
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    RemapIdentity,
    parse_identity_rule,
)
from imagesig.trust.keys import TrustedCert, TrustedKeys
from imagesig.trust.payload import Payload, make_payload, parse_payload
from imagesig.trust.reference import Reference, digest_of, parse_digest, parse_reference
from imagesig.trust.sign import sign_image, sign_payload
from imagesig.trust.verify import (
    ImageCheck,
    Reason,
    Status,
    Verdict,
    check_image,
    verify_signature,
)

__all__ = [
    "DEFAULT_IDENTITY_RULE",
    "IDENTITY_RULES",
    "ExactReference",
    "ExactRepository",
    "IdentityRule",
    "ImageCheck",
    "InvalidIdentityRule",
    "InvalidReference",
    "KeyringError",
    "MalformedPayload",
    "MatchExact",
    "MatchRepoDigestOrExact",
    "MatchRepository",
    "Payload",
    "Reason",
    "Reference",
    "RemapIdentity",
    "SigningError",
    "Status",
    "TrustError",
    "TrustedCert",
    "TrustedKeys",
    "Verdict",
    "check_image",
    "digest_of",
    "make_payload",
    "parse_digest",
    "parse_identity_rule",
    "parse_payload",
    "parse_reference",
    "sign_image",
    "sign_payload",
    "verify_signature",
]
