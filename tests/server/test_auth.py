"""Token files and RBAC bindings: parsing, strictness, and decisions."""

from __future__ import annotations

import pytest

from imagesig.server.auth import AuthConfigError, Authorizer, TokenAuthenticator, User


def test_token_csv_with_groups_and_comments() -> None:
    auth = TokenAuthenticator()
    auth.load_csv('# comment\nt1,alice,uid-a,"g1,g2"\n\nt2,bob,uid-b\nt3,carol\n', "tokens.csv")
    alice = auth.authenticate("Bearer t1")
    assert alice == User("alice", "uid-a", ("g1", "g2", "system:authenticated"))
    assert auth.authenticate("bearer t2") == User("bob", "uid-b", ("system:authenticated",))
    assert auth.authenticate("Bearer t3") is not None
    assert auth.authenticate("Bearer t4") is None
    assert auth.authenticate("Bearer ") is None
    assert auth.authenticate("Basic t1") is None
    assert auth.authenticate(None) is None


@pytest.mark.parametrize("line", ["onlytoken", ",user", "token,"])
def test_malformed_token_lines_name_the_place(line: str) -> None:
    with pytest.raises(AuthConfigError, match=r"tokens.csv:1"):
        TokenAuthenticator().load_csv(line + "\n", "tokens.csv")


BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: x}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ROLE}
subjects: [{kind: KIND, name: NAME}]
"""


def binding(role: str = "system:image-signer", kind: str = "User", name: str = "alice") -> str:
    return BINDING.replace("ROLE", role).replace("KIND", kind).replace("NAME", name)


def test_bindings_grant_roles_to_users_and_groups() -> None:
    authz = Authorizer()
    authz.load_bindings(binding() + "---" + binding("system:image-auditor", "Group", "qa"), "rbac")
    alice = User("alice")
    assert authz.allowed(alice, "create", "imagesignatures")
    assert authz.allowed(alice, "get", "images")
    assert not authz.allowed(alice, "list", "images")
    qa = User("bob", groups=("qa",))
    assert authz.allowed(qa, "list", "images")
    assert not authz.allowed(qa, "create", "imagesignatures")
    assert authz.allowed(User("root", groups=("system:masters",)), "delete", "images")
    assert not authz.allowed(User("nobody"), "get", "images")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (binding(role="system:admin"), 'unknown ClusterRole "system:admin"'),
        (binding(kind="ServiceAccount"), "subjects[0].kind must be User or Group"),
        (binding().replace("ClusterRoleBinding", "RoleBinding"), "kind must be ClusterRoleBinding"),
        (binding().replace("rbac.authorization.k8s.io/v1", "v1", 1), "apiVersion"),
        ("a: [", "not valid YAML"),
    ],
)
def test_bad_rbac_files_are_rejected_with_the_place(text: str, message: str) -> None:
    with pytest.raises(AuthConfigError, match="rbac") as info:
        Authorizer().load_bindings(text, "rbac")
    assert message in str(info.value)
