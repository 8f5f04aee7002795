"""A small client for our API, configured from a kubeconfig as kubectl is.

Only what ``imagesig sign`` and ``imagesig verify`` need: the current context's
server, its CA (or ``insecure-skip-tls-verify``) and a bearer token. Errors
form a small hierarchy: ``KubeconfigError`` (fix the file), ``ConnectionFailed``
(the server is not reachable), ``APIError`` (the server said no; its Status).
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
import yaml

GV = "/apis/image.openshift.io/v1"
DEFAULT_KUBECONFIG = Path("imagesig-data") / "admin.kubeconfig"


class ClientError(Exception):
    """Base class: the request could not be made, or the server refused it."""


class KubeconfigError(ClientError):
    """A kubeconfig that is missing, unreadable or lacks what a request needs."""


class ConnectionFailed(ClientError):
    """The server could not be reached, or its certificate was not trusted."""


class APIError(ClientError):
    """The server answered with an error Status."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        # kubectl's wording, which people already know how to read.
        return f"Error from server ({self.reason}): {self.message}"


@dataclass(frozen=True)
class ClusterConfig:
    """What a request needs, resolved from a kubeconfig."""

    server: str
    verify: ssl.SSLContext | bool
    token: str


def kubeconfig_path(explicit: str | None = None) -> Path:
    """``explicit``, else the first existing file of ``$KUBECONFIG``, else the default."""
    if explicit:
        return Path(explicit)
    env = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    for candidate in env:
        if Path(candidate).is_file():
            return Path(candidate)
    return Path(env[0]) if env else DEFAULT_KUBECONFIG


def _member(obj: Mapping[str, Any], key: str, where: str, path: Path) -> Any:
    if not isinstance(obj, Mapping) or key not in obj:
        raise KubeconfigError(f"{path}: {where} has no {key!r}")
    return obj[key]


def _named(entries: Any, name: str, kind: str, path: Path) -> Mapping[str, Any]:
    """The ``cluster`` / ``user`` / ``context`` body of the entry called ``name``."""
    if not isinstance(entries, list):
        raise KubeconfigError(f"{path}: {kind}s must be a list")
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            body = entry.get(kind)
            if not isinstance(body, Mapping):
                raise KubeconfigError(f"{path}: {kind} {name!r} has no {kind!r} object")
            return body
    raise KubeconfigError(f"{path}: no {kind} named {name!r}")


def _relative(path: Path, value: Any, what: str) -> Path:
    if not isinstance(value, str) or not value:
        raise KubeconfigError(f"{path}: {what} must be a file name")
    # As kubectl: relative file names are relative to the kubeconfig's directory.
    return path.parent / value


def _tls(cluster: Mapping[str, Any], path: Path) -> ssl.SSLContext | bool:
    if cluster.get("insecure-skip-tls-verify") is True:
        return False
    try:
        if "certificate-authority-data" in cluster:
            pem = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
            return ssl.create_default_context(cadata=pem.decode("ascii"))
        if "certificate-authority" in cluster:
            ca = _relative(path, cluster["certificate-authority"], "certificate-authority")
            return ssl.create_default_context(cafile=str(ca))
    except (ValueError, ssl.SSLError) as exc:  # bad base64, not ASCII, not a certificate
        raise KubeconfigError(
            f"{path}: the cluster's CA certificate is not valid PEM: {exc}"
        ) from None
    except OSError as exc:
        raise KubeconfigError(f"{path}: cannot read certificate-authority: {exc}") from None
    return ssl.create_default_context()  # the system's CAs


def _token(user: Mapping[str, Any], name: str, path: Path) -> str:
    token = user.get("token")
    if token is None and "tokenFile" in user:
        file = _relative(path, user["tokenFile"], "tokenFile")
        try:
            token = file.read_text().strip()
        except OSError as exc:
            raise KubeconfigError(f"{path}: cannot read tokenFile: {exc}") from None
    if not isinstance(token, str) or not token:
        raise KubeconfigError(
            f"{path}: user {name!r} has no token or tokenFile (imagesig accepts bearer tokens only)"
        )
    return token


def load_kubeconfig(explicit: str | None = None) -> ClusterConfig:
    """Resolve the current context of a kubeconfig (see ``kubeconfig_path``)."""
    path = kubeconfig_path(explicit)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KubeconfigError(
            f"kubeconfig {path} not found: give --kubeconfig or set KUBECONFIG"
            f" (imagesig serve writes one to <data-dir>/admin.kubeconfig)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc}") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(config, Mapping):
        raise KubeconfigError(f"{path}: not a kubeconfig (expected a YAML mapping)")
    current = config.get("current-context")
    if not isinstance(current, str) or not current:
        raise KubeconfigError(f"{path}: no current-context is set")
    context = _named(config.get("contexts"), current, "context", path)
    cluster_name = _member(context, "cluster", f"context {current!r}", path)
    user_name = _member(context, "user", f"context {current!r}", path)
    cluster = _named(config.get("clusters"), cluster_name, "cluster", path)
    user = _named(config.get("users"), user_name, "user", path)
    server = _member(cluster, "server", f"cluster {cluster_name!r}", path)
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{path}: cluster {cluster_name!r} has no valid server URL")
    return ClusterConfig(
        server=server.rstrip("/"), verify=_tls(cluster, path), token=_token(user, user_name, path)
    )


def _api_error(response: httpx.Response) -> APIError:
    try:
        status = response.json()
    except ValueError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return APIError(
            int(status.get("code") or response.status_code),
            str(status.get("reason") or response.reason_phrase),
            str(status.get("message") or response.reason_phrase),
        )
    text = response.text.strip()[:200] or response.reason_phrase
    return APIError(response.status_code, response.reason_phrase, text)


class Client:
    """Typed calls to the image.openshift.io/v1 API; use as a context manager."""

    def __init__(self, config: ClusterConfig, *, timeout: float = 30.0) -> None:
        self.config = config
        self._http = httpx.Client(
            base_url=config.server,
            verify=config.verify,
            headers={"Authorization": f"Bearer {config.token}", "Accept": "application/json"},
            timeout=timeout,
        )

    @classmethod
    def from_kubeconfig(cls, path: str | None = None) -> Client:
        return cls(load_kubeconfig(path))

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._http.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"cannot reach {self.config.server}: {exc}") from None
        if response.is_error:
            raise _api_error(response)
        try:
            result = response.json()
        except ValueError:
            raise ClientError(f"{self.config.server} did not answer with JSON") from None
        if not isinstance(result, dict):
            raise ClientError(f"{self.config.server} answered with an unexpected document")
        return result

    def get_image(self, name: str) -> dict[str, Any]:
        """The Image ``name`` (its manifest digest), with its signatures."""
        return self._request("GET", f"{GV}/images/{quote(name, safe=':@')}")

    def create_signature(self, name: str, type: str, content: bytes) -> dict[str, Any]:
        """Create ImageSignature ``<image>@<signature name>``; the server's answer, conditions included."""
        body = {
            "kind": "ImageSignature",
            "apiVersion": "image.openshift.io/v1",
            "metadata": {"name": name},
            "type": type,
            "content": base64.b64encode(content).decode("ascii"),
        }
        return self._request("POST", f"{GV}/imagesignatures", body)
