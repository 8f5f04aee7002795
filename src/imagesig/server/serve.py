"""``imagesig serve``: prepare the data directory, then run the app on granian over TLS.

The parent process creates what must exist before the first request (TLS
material, the admin token and kubeconfig) and hands the resolved settings to
the granian worker through one environment variable; the worker builds the
app from them (:func:`create_app`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from imagesig.registry.context import ContentVerifier, NoVerifier
from imagesig.registry.images import ImageRegistry
from imagesig.registry.imagesignatures import ImageSignatureRegistry
from imagesig.registry.verification import (
    Reverifier,
    SignatureVerifier,
    default_pool,
    stop_task,
)
from imagesig.server.app import DEFAULT_MAX_BODY, App, Services
from imagesig.server.auth import (
    MASTERS_GROUP,
    Authorizer,
    TokenAuthenticator,
    load_rbac_file,
    load_token_file,
)
from imagesig.server.tls import ensure_self_signed
from imagesig.storage.base import Store
from imagesig.storage.etcd import EtcdStore
from imagesig.storage.sqlite import SQLiteStore, Synchronous
from imagesig.trust.keys import TrustedKeys

log = logging.getLogger("imagesig.serve")

ENV = "IMAGESIG_SERVE_CONFIG"
ADMIN_TOKENS = "admin-token.csv"
KUBECONFIG = "admin.kubeconfig"
DATABASE = "imagesig.db"


@dataclass
class ServeConfig:
    data_dir: str = "imagesig-data"
    bind_address: str = "127.0.0.1"
    secure_port: int = 8443
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    token_auth_files: list[str] = field(default_factory=list)
    rbac_file: str = ""
    sqlite_synchronous: Synchronous = "FULL"
    max_request_bytes: int = DEFAULT_MAX_BODY
    log_level: str = "info"
    trusted_keys: str = ""
    etcd_servers: list[str] = field(default_factory=list)
    etcd_prefix: str = "/imagesig"
    etcd_cafile: str = ""
    etcd_certfile: str = ""
    etcd_keyfile: str = ""
    verify_workers: int = 0  # 0: one per core
    reverify_interval: float = 2.0

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[ENV]))


def _client_host(bind_address: str) -> str:
    if bind_address in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard to loopback
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def ensure_admin_token(data_dir: Path) -> str:
    """The admin's token (user ``admin``, group ``system:masters``), made at first start."""
    path = data_dir / ADMIN_TOKENS
    if path.exists():
        first = path.read_text().split(",", 1)[0].strip()
        if first:
            return first
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'{token},admin,admin,"{MASTERS_GROUP}"\n')
    return token


def write_kubeconfig(path: Path, server: str, ca_pem: bytes, token: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "imagesig",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": "admin", "user": {"token": token}}],
        "contexts": [{"name": "imagesig", "context": {"cluster": "imagesig", "user": "admin"}}],
        "current-context": "imagesig",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)


@dataclass(frozen=True)
class Prepared:
    cert: Path
    key: Path
    kubeconfig: Path
    server_url: str


def prepare(config: ServeConfig) -> Prepared:
    """Create the data directory's TLS material, admin token and kubeconfig."""
    data_dir = Path(config.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    host = _client_host(config.bind_address)
    server_url = f"https://{_url_host(host)}:{config.secure_port}"
    if config.tls_cert_file:
        cert, key = Path(config.tls_cert_file), Path(config.tls_private_key_file)
        ca_pem = cert.read_bytes()
    else:
        tls = ensure_self_signed(data_dir / "pki", [config.bind_address, host])
        cert, key = tls.cert, tls.key
        ca_pem = tls.ca.read_bytes()
    token = ensure_admin_token(data_dir)
    kubeconfig = data_dir / KUBECONFIG
    write_kubeconfig(kubeconfig, server_url, ca_pem, token)
    return Prepared(cert, key, kubeconfig, server_url)


def build_auth(config: ServeConfig) -> tuple[TokenAuthenticator, Authorizer]:
    authn = TokenAuthenticator()
    load_token_file(authn, Path(config.data_dir) / ADMIN_TOKENS)
    for path in config.token_auth_files:
        load_token_file(authn, Path(path))
    authz = Authorizer()
    if config.rbac_file:
        load_rbac_file(authz, Path(config.rbac_file))
    return authn, authz


def open_store(config: ServeConfig) -> Store:
    """etcd when ``--etcd-servers`` is given, else the embedded SQLite file."""
    if config.etcd_servers:
        return EtcdStore(
            config.etcd_servers,
            prefix=config.etcd_prefix,
            ca_file=config.etcd_cafile or None,
            cert_file=config.etcd_certfile or None,
            key_file=config.etcd_keyfile or None,
        )
    return SQLiteStore(Path(config.data_dir) / DATABASE, synchronous=config.sqlite_synchronous)


def load_trusted_keys(config: ServeConfig) -> TrustedKeys:
    """The keys signatures are verified against; none configured trusts nothing."""
    if not config.trusted_keys:
        return TrustedKeys()
    return TrustedKeys.from_path(config.trusted_keys, allow_empty_dirs=True)


def build_services(
    config: ServeConfig, store: Store, verifier: ContentVerifier | None = None
) -> Services:
    authn, authz = build_auth(config)
    images = ImageRegistry(store, verifier or NoVerifier())
    return Services(
        store=store,
        images=images,
        signatures=ImageSignatureRegistry(images),
        authn=authn,
        authz=authz,
        max_body=config.max_request_bytes,
    )


def create_app() -> App:
    """The granian factory: the app of one worker, configured from the environment."""
    os.environ.pop("RUST_BACKTRACE", None)
    config = ServeConfig.from_env()
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        store = open_store(config)
        workers = config.verify_workers or os.cpu_count() or 1
        verifier = SignatureVerifier(load_trusted_keys(config), default_pool(workers))
        await verifier.warm_up(workers)
        app.services = build_services(config, store, verifier)
        on_stop_signal(asyncio.get_running_loop(), app.begin_shutdown)
        reverifier = Reverifier(app.services.images, verifier, interval=config.reverify_interval)
        task = asyncio.create_task(reverifier.run(), name="reverify")
        try:
            yield
        finally:
            app.services = None
            await stop_task(task)
            verifier.close()
            await store.close()

    return App(lifespan=lifespan)


def on_stop_signal(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Call ``callback`` first when SIGTERM or SIGINT arrives, then granian's own handler.

    granian stops a worker by draining its connections; open watches would hold that up
    until they time out. asyncio has no public way to chain signal handlers, so the
    previous handler is taken from the loop (a private attribute, read defensively).
    """
    handlers: dict[int, Any] = getattr(loop, "_signal_handlers", {})
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = handlers.get(signum)

        def chained(previous: Any = previous) -> None:
            callback()
            if previous is not None and not previous.cancelled():
                previous._run()

        try:
            loop.add_signal_handler(signum, chained)
        except (NotImplementedError, RuntimeError, ValueError):
            return


def serve(config: ServeConfig) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    prepared = prepare(config)
    build_auth(config)  # fail now, with a clear message, on a bad token or RBAC file
    load_trusted_keys(config)  # and on unreadable trusted keys
    if config.etcd_servers:
        open_store(config)  # and on bad etcd settings (it connects lazily, on first use)
    os.environ[ENV] = config.to_env()
    os.environ.pop("RUST_BACKTRACE", None)
    log.info("imagesig listening on %s", prepared.server_url)
    log.info("admin kubeconfig: %s", prepared.kubeconfig)
    Granian(
        target="imagesig.server.serve:create_app",
        factory=True,
        interface=Interfaces.ASGI,
        address=config.bind_address,
        port=config.secure_port,
        workers=1,
        ssl_cert=prepared.cert,
        ssl_key=prepared.key,
        ssl_protocol_min="tls1.2",  # type: ignore[arg-type]
        log_access=False,
        log_level=config.log_level,  # type: ignore[arg-type]
        websockets=False,
    ).serve()
