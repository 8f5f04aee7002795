"""What a resource needs to know about the request it serves, and its collaborators."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from imagesig.api.types import ImageSignature
from imagesig.registry.signature_rules import now_seconds


@dataclass(frozen=True, slots=True)
class Context:
    user: str
    dry_run: bool = False
    now: datetime = field(default_factory=now_seconds)


class ContentVerifier(Protocol):
    """Reads a signature's content and fills its conditions and derived fields."""

    async def fill(self, image_name: str, signature: ImageSignature, now: datetime) -> None: ...


class NoVerifier:
    """Stores content as it is: no conditions, no derived fields (OKD's behaviour)."""

    async def fill(self, image_name: str, signature: ImageSignature, now: datetime) -> None:
        return None
