"""Who is asking (bearer tokens) and what they may do (bootstrap roles, RBAC bindings).

Tokens are kept only as SHA-256 digests and looked up by digest, then compared
with :func:`hmac.compare_digest`: the time a lookup takes says nothing about a
real token. Tokens never reach a log.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MASTERS_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()


class AuthConfigError(Exception):
    """A token or RBAC file that cannot be used; the message names the place."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenAuthenticator:
    def __init__(self) -> None:
        self._users: dict[bytes, User] = {}

    def add(self, token: str, user: User) -> None:
        if not token:
            raise AuthConfigError("empty token")
        self._users[_digest(token)] = user

    def load_csv(self, text: str, source: str) -> None:
        """kube-apiserver's token file: ``token,user,uid,"group1,group2"`` per line."""
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise AuthConfigError(f"{source}:{lineno}: expected token,user[,uid[,groups]]")
            groups = (
                tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            )
            self.add(
                row[0].strip(),
                User(row[1].strip(), row[2].strip() if len(row) > 2 else "", groups),
            )

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        digest = _digest(token.strip())
        # Every known digest is compared, each in constant time: neither which token
        # matched nor how much of it did shows in the time taken.
        user: User | None = None
        for known, candidate in self._users.items():
            if hmac.compare_digest(known, digest):
                user = candidate
        if user is None:
            return None
        return User(user.name, user.uid, (*user.groups, AUTHENTICATED_GROUP))


# -- authorization ------------------------------------------------------------------

ALL = "*"


@dataclass(frozen=True, slots=True)
class Rule:
    resources: frozenset[str]
    verbs: frozenset[str]

    def allows(self, verb: str, resource: str) -> bool:
        return (ALL in self.resources or resource in self.resources) and (
            ALL in self.verbs or verb in self.verbs
        )


def _rule(resources: Iterable[str], verbs: Iterable[str]) -> Rule:
    return Rule(frozenset(resources), frozenset(verbs))


# The bootstrap roles, least privilege first (api.md section 8).
ROLES: dict[str, tuple[Rule, ...]] = {
    "system:image-signer": (
        _rule(["images"], ["get"]),
        _rule(["imagesignatures"], ["create", "delete"]),
    ),
    "system:image-auditor": (_rule(["images"], ["get", "list", "watch", "update", "patch"]),),
    "cluster-admin": (_rule([ALL], [ALL]),),
}


@dataclass
class Authorizer:
    """Cluster role bindings of users and groups to the bootstrap roles."""

    users: dict[str, set[str]] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=lambda: {MASTERS_GROUP: {"cluster-admin"}})

    def bind(self, role: str, kind: str, name: str) -> None:
        if role not in ROLES:
            raise AuthConfigError(f'unknown ClusterRole "{role}" (known: {", ".join(ROLES)})')
        target = self.users if kind == "User" else self.groups
        target.setdefault(name, set()).add(role)

    def roles_of(self, user: User) -> set[str]:
        roles = set(self.users.get(user.name, ()))
        for group in user.groups:
            roles |= self.groups.get(group, set())
        return roles

    def allowed(self, user: User, verb: str, resource: str) -> bool:
        return any(
            rule.allows(verb, resource) for role in self.roles_of(user) for rule in ROLES[role]
        )

    def load_bindings(self, text: str, source: str) -> None:
        """A YAML stream of ``rbac.authorization.k8s.io/v1`` ClusterRoleBinding objects."""
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            raise AuthConfigError(f"{source}: not valid YAML: {exc}") from None
        for i, doc in enumerate(docs):
            where = f"{source}: document {i + 1}"
            if not isinstance(doc, dict):
                raise AuthConfigError(f"{where}: not an object")
            if doc.get("kind") == "List" or doc.get("kind") == "ClusterRoleBindingList":
                items = doc.get("items") or []
                self.load_bindings(yaml.safe_dump_all(items), f"{where} items")
                continue
            if doc.get("apiVersion") != "rbac.authorization.k8s.io/v1":
                raise AuthConfigError(f"{where}: apiVersion must be rbac.authorization.k8s.io/v1")
            if doc.get("kind") != "ClusterRoleBinding":
                raise AuthConfigError(f"{where}: kind must be ClusterRoleBinding")
            ref = doc.get("roleRef")
            if not isinstance(ref, dict) or ref.get("kind") != "ClusterRole":
                raise AuthConfigError(f"{where}: roleRef must name a ClusterRole")
            subjects = doc.get("subjects") or []
            if not isinstance(subjects, list):
                raise AuthConfigError(f"{where}: subjects must be a list")
            for j, subject in enumerate(subjects):
                if not isinstance(subject, dict) or subject.get("kind") not in ("User", "Group"):
                    raise AuthConfigError(f"{where}: subjects[{j}].kind must be User or Group")
                name = subject.get("name")
                if not isinstance(name, str) or not name:
                    raise AuthConfigError(f"{where}: subjects[{j}].name is required")
                try:
                    self.bind(str(ref.get("name")), subject["kind"], name)
                except AuthConfigError as exc:
                    raise AuthConfigError(f"{where}: {exc}") from None


def load_token_file(auth: TokenAuthenticator, path: Path) -> None:
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuthConfigError(f"cannot read token file {path}: {exc.strerror}") from None
    auth.load_csv(text, str(path))


def load_rbac_file(authz: Authorizer, path: Path) -> None:
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuthConfigError(f"cannot read RBAC file {path}: {exc.strerror}") from None
    authz.load_bindings(text, str(path))
