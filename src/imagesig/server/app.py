"""The ASGI application: one request path for every resource.

HTTP → routing → authentication → authorization → decoding → the resource's
registry → one encoder, and every failure rendered by one error writer as a
``Status``. Nothing resource-specific is decided here beyond which registry
method a path and verb call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from imagesig.api import codec, errors
from imagesig.api.errors import APIError
from imagesig.api.patch import json_patch, merge_patch
from imagesig.api.types import API_VERSION, Image, ImageSignature, Status, StatusDetails
from imagesig.registry.context import Context
from imagesig.registry.images import ImageRegistry, ListOptions
from imagesig.registry.imagesignatures import ImageSignatureRegistry
from imagesig.server import discovery, negotiation, openapi
from imagesig.server.auth import Authorizer, TokenAuthenticator, User
from imagesig.storage.base import Store, StoreError, Unavailable, ValueTooLarge

log = logging.getLogger("imagesig.server")
access_log = logging.getLogger("imagesig.access")

GV = f"/apis/{API_VERSION}"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
WATCH_TIMEOUT_SECONDS = 1800


@dataclass
class Services:
    """Everything a request may need, built once per process."""

    store: Store
    images: ImageRegistry
    signatures: ImageSignatureRegistry
    authn: TokenAuthenticator
    authz: Authorizer
    max_body: int = DEFAULT_MAX_BODY


@dataclass
class Call:
    """One request as the handlers see it."""

    user: User
    resource: str
    name: str
    pretty: bool
    accept: str | None
    warnings: list[str]


def _pretty(request: Request) -> bool:
    value = request.query_params.get("pretty")
    if value is not None:
        return value.lower() in ("true", "1")
    agent = request.headers.get("user-agent", "")
    return agent.startswith(("curl", "Wget", "Mozilla/5.0"))


def _respond(
    obj: msgspec.Struct | dict[str, Any],
    status: int,
    accept: str | None,
    pretty: bool,
    offers: tuple[str, ...] = negotiation.OBJECT_TYPES,
    warnings: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    media = negotiation.choose(accept, offers)
    response = Response(codec.encode(obj, media, pretty), status_code=status, media_type=media)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    for warning in warnings or ():
        response.headers.append("Warning", f"299 - {json.dumps(warning)}")
    return response


def _error_response(exc: APIError, accept: str | None, pretty: bool) -> Response:
    try:
        media = negotiation.choose(accept, negotiation.OBJECT_TYPES)
    except APIError:
        media = codec.JSON
    response = Response(
        codec.encode(exc.status, media, pretty), status_code=exc.code, media_type=media
    )
    for key, value in exc.headers.items():
        response.headers[key] = value
    return response


def _dry_run(request: Request) -> bool:
    values = request.query_params.getlist("dryRun")
    for value in values:
        if value != "All":
            raise errors.bad_request(f'unsupported dry run value "{value}"; only "All" is allowed')
    return bool(values)


def _field_validation(request: Request) -> str:
    value = request.query_params.get("fieldValidation", "Warn") or "Warn"
    if value not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation must be one of "Ignore", "Warn" or "Strict", not "{value}"'
        )
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise errors.request_too_large(limit)
        except ValueError:
            raise errors.bad_request("invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.request_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class App:
    """The ASGI callable. ``services`` is set by the lifespan (or directly in tests)."""

    def __init__(self, services: Services | None = None, *, lifespan: Any = None) -> None:
        self.services = services
        self._lifespan = lifespan
        self.stopping = asyncio.Event()

    def begin_shutdown(self) -> None:
        """End open watches now: a server that is stopping does not wait for them to time out."""
        self.stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._run_lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        response = await self.handle(request)
        await response(scope, receive, send)
        access_log.debug(
            "%s %s %d %.1fms",
            request.method,
            scope.get("path", ""),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )

    async def _run_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        context = self._lifespan(self) if self._lifespan else contextlib.nullcontext()
        try:
            await context.__aenter__()
        except Exception as exc:
            log.exception("startup failed")
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await context.__aexit__(None, None, None)
        finally:
            await send({"type": "lifespan.shutdown.complete"})

    async def handle(self, request: Request) -> Response:
        accept = request.headers.get("accept")
        pretty = False
        try:
            pretty = _pretty(request)
            return await self._route(request, accept, pretty)
        except APIError as exc:
            await self._drain(request)
            return _error_response(exc, accept, pretty)
        except ValueTooLarge as exc:
            return _error_response(errors.request_too_large_for_storage(str(exc)), accept, pretty)
        except Unavailable as exc:
            return _error_response(
                errors.unavailable(f"storage is unavailable: {exc}"), accept, pretty
            )
        except StoreError as exc:
            log.error("storage error on %s %s: %s", request.method, request.url.path, exc)
            return _error_response(errors.internal("storage error"), accept, pretty)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return _error_response(errors.internal("unexpected server error"), accept, pretty)

    async def _drain(self, request: Request) -> None:
        """Read what is left of a body before answering early (401, 404, 405, ...).

        An HTTP/2 stream answered while its body is still arriving is reset, and some
        clients (curl 7.88) then lose the answer. Never more than the body limit.
        """
        limit = self.services.max_body if self.services else DEFAULT_MAX_BODY
        with contextlib.suppress(Exception):
            await _read_body(request, limit)

    # -- routing ---------------------------------------------------------------

    async def _route(self, request: Request, accept: str | None, pretty: bool) -> Response:
        services = self.services
        if services is None:
            raise errors.unavailable("the server is starting")
        path = request.url.path
        method = request.method
        if path in ("/healthz", "/livez", "/readyz", "/version"):
            return await self._unauthenticated(services, path, method, accept, pretty)
        user = services.authn.authenticate(request.headers.get("authorization"))
        if user is None:
            raise errors.unauthorized()

        if path.startswith(GV + "/"):
            rest = path[len(GV) + 1 :]
            resource, _, name = rest.partition("/")
            name = unquote(name)
            if "/" in name:
                raise errors.not_found(resource, name)
            call = Call(user, resource, name, pretty, accept, [])
            if resource == "imagesignatures":
                return await self._imagesignatures(request, services, call)
            if resource == "images":
                return await self._images(request, services, call)
            raise _no_such_path()

        if method != "GET":
            raise errors.method_not_allowed()
        return self._discovery(path, request, accept, pretty)

    async def _unauthenticated(
        self, services: Services, path: str, method: str, accept: str | None, pretty: bool
    ) -> Response:
        if method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        if path == "/version":
            return _respond(discovery.version(), 200, None, pretty, (codec.JSON,))
        if path == "/readyz" and not await services.store.ready():
            return Response("storage is not ready\n", 503, media_type="text/plain")
        return Response("ok", 200, media_type="text/plain")

    def _discovery(self, path: str, request: Request, accept: str | None, pretty: bool) -> Response:
        docs: dict[str, Callable[[], dict[str, Any]]] = {
            "/api": discovery.core_versions,
            "/api/v1": discovery.core_resources,
            "/apis": discovery.api_groups,
            "/apis/image.openshift.io": discovery.api_group,
            GV: discovery.api_resources,
            "/openapi/v3": openapi.index,
        }
        path = path.rstrip("/") or "/"
        if path in ("/api", "/apis") and negotiation.wants_discovery_v2(accept):
            doc = discovery.aggregated_core() if path == "/api" else discovery.aggregated_groups()
            body = codec.encode(doc, codec.JSON, pretty)
            return Response(body, 200, media_type=negotiation.DISCOVERY_V2)
        if path == f"/openapi/v3/{openapi.GV_PATH}":
            negotiation.choose(
                accept, (codec.JSON, "application/com.github.proto-openapi.spec.v3@v1.0+protobuf")
            )
            body = (
                openapi.document_bytes()
                if not pretty
                else codec.encode(openapi.document(), codec.JSON, True)
            )
            headers = {"Cache-Control": "public, immutable", "Etag": f'"{openapi.document_hash()}"'}
            return Response(body, 200, media_type=codec.JSON, headers=headers)
        if path in docs:
            return _respond(docs[path](), 200, accept, pretty, negotiation.DOCUMENT_TYPES)
        raise _no_such_path()

    def _authorize(self, services: Services, call: Call, verb: str) -> None:
        if not services.authz.allowed(call.user, verb, call.resource):
            raise errors.forbidden(call.user.name, verb, call.resource, call.name)

    def _context(self, request: Request, call: Call) -> Context:
        return Context(user=call.user.name, dry_run=_dry_run(request))

    async def _decode(
        self, request: Request, services: Services, call: Call, target: type[Any], kind: str
    ) -> Any:
        mode = _field_validation(request)
        body = await _read_body(request, services.max_body)
        decoded = codec.parse_body(body, request.headers.get("content-type"), target)
        problems = decoded.field_problems()
        if problems and mode == "Strict":
            raise errors.bad_request("strict decoding error: " + ", ".join(problems))
        if mode == "Warn":
            call.warnings.extend(problems)
        return codec.to_object(decoded.document, target, kind, API_VERSION)

    # -- imagesignatures -------------------------------------------------------

    async def _imagesignatures(self, request: Request, services: Services, call: Call) -> Response:
        method = request.method
        if not call.name and method == "POST":
            self._authorize(services, call, "create")
            ctx = self._context(request, call)
            sig = await self._decode(request, services, call, ImageSignature, "ImageSignature")
            created = await services.signatures.create(sig, ctx)
            return _respond(created, 201, call.accept, call.pretty, warnings=call.warnings)
        if call.name and method == "DELETE":
            self._authorize(services, call, "delete")
            ctx = Context(
                user=call.user.name, dry_run=await self._delete_dry_run(request, services)
            )
            status = await services.signatures.delete(call.name, ctx)
            return _respond(status, 200, call.accept, call.pretty)
        raise errors.method_not_allowed()

    async def _delete_dry_run(self, request: Request, services: Services) -> bool:
        """DeleteOptions may come as a body; only its dryRun matters here."""
        dry_run = _dry_run(request)
        body = await _read_body(request, services.max_body)
        if body.strip():
            with contextlib.suppress(ValueError):
                options = json.loads(body)
                if isinstance(options, dict) and isinstance(options.get("dryRun"), list):
                    for value in options["dryRun"]:
                        if value != "All":
                            raise errors.bad_request(f'unsupported dry run value "{value}"')
                    dry_run = dry_run or bool(options["dryRun"])
        return dry_run

    # -- images ----------------------------------------------------------------

    async def _images(self, request: Request, services: Services, call: Call) -> Response:
        method = request.method
        registry = services.images
        if not call.name:
            if method == "GET":
                watching = request.query_params.get("watch", "").lower() in ("true", "1")
                self._authorize(services, call, "watch" if watching else "list")
                if watching:
                    return self._watch(request, services, call)
                opts = ListOptions(
                    limit=_int_param(request, "limit"),
                    continue_=request.query_params.get("continue", ""),
                    label_selector=request.query_params.get("labelSelector", ""),
                )
                result = await registry.list(opts)
                return _respond(result, 200, call.accept, call.pretty)
            if method == "POST":
                self._authorize(services, call, "create")
                ctx = self._context(request, call)
                image = await self._decode(request, services, call, Image, "Image")
                created = await registry.create(image, ctx)
                return _respond(created, 201, call.accept, call.pretty, warnings=call.warnings)
            raise errors.method_not_allowed()

        if method == "GET":
            self._authorize(services, call, "get")
            return _respond(await registry.get(call.name), 200, call.accept, call.pretty)
        if method == "PUT":
            self._authorize(services, call, "update")
            ctx = self._context(request, call)
            image = await self._decode(request, services, call, Image, "Image")
            updated = await registry.update(call.name, image, ctx)
            return _respond(updated, 200, call.accept, call.pretty, warnings=call.warnings)
        if method == "PATCH":
            self._authorize(services, call, "patch")
            ctx = self._context(request, call)
            apply = await self._patch_function(request, services, call)
            patched = await registry.patch(call.name, apply, ctx)
            return _respond(patched, 200, call.accept, call.pretty, warnings=call.warnings)
        if method == "DELETE":
            self._authorize(services, call, "delete")
            ctx = Context(
                user=call.user.name, dry_run=await self._delete_dry_run(request, services)
            )
            return _respond(await registry.delete(call.name, ctx), 200, call.accept, call.pretty)
        raise errors.method_not_allowed()

    async def _patch_function(
        self, request: Request, services: Services, call: Call
    ) -> Callable[[dict[str, Any]], Image]:
        media = codec.media_type_of(request.headers.get("content-type"))
        if media not in (codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH, codec.JSON_PATCH):
            raise errors.unsupported_media_type(
                media, (codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH, codec.JSON_PATCH)
            )
        mode = _field_validation(request)
        body = await _read_body(request, services.max_body)
        try:
            patch = json.loads(body)
        except ValueError as exc:
            raise errors.bad_request(f"the patch is not valid JSON: {exc}") from None

        def apply(current: dict[str, Any]) -> Image:
            doc = (
                json_patch(current, patch)
                if media == codec.JSON_PATCH
                else merge_patch(current, patch)
            )
            if not isinstance(doc, dict):
                raise errors.bad_request("the patched object is not an object")
            unknown = codec.unknown_fields(doc, Image)
            if unknown and mode == "Strict":
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in unknown)
                )
            if mode == "Warn":
                call.warnings.extend(f'unknown field "{f}"' for f in unknown)
            image: Image = codec.to_object(doc, Image, "Image", API_VERSION)
            return image

        return apply

    def _watch(self, request: Request, services: Services, call: Call) -> Response:
        media = negotiation.choose(call.accept, (codec.JSON,))
        raw_rv = request.query_params.get("resourceVersion", "")
        if raw_rv in ("", "0"):
            start: int | None = None
        else:
            try:
                start = int(raw_rv)
            except ValueError:
                raise errors.bad_request(f'invalid resourceVersion "{raw_rv}"') from None
        timeout = _int_param(request, "timeoutSeconds") or WATCH_TIMEOUT_SECONDS

        async def stream() -> AsyncIterator[bytes]:
            # An empty first chunk makes granian send the status line and headers now:
            # clients wait for them before they wait for events.
            yield b""
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            events = services.images.watch(start).__aiter__()
            stopping = asyncio.ensure_future(self.stopping.wait())
            try:
                while True:
                    upcoming = asyncio.ensure_future(events.__anext__())
                    done, _ = await asyncio.wait(
                        {upcoming, stopping},
                        timeout=max(deadline - loop.time(), 0),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if upcoming not in done:  # timeoutSeconds, or the server is stopping
                        upcoming.cancel()
                        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                            await upcoming
                        return
                    try:
                        event = upcoming.result()
                    except StopAsyncIteration:
                        return
                    yield msgspec.json.encode({"type": event.type, "object": event.image}) + b"\n"
            except APIError as exc:
                yield msgspec.json.encode({"type": "ERROR", "object": exc.status}) + b"\n"
            except StoreError as exc:
                status = errors.unavailable(f"storage is unavailable: {exc}").status
                yield msgspec.json.encode({"type": "ERROR", "object": status}) + b"\n"
            finally:
                stopping.cancel()
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()

        return StreamingResponse(stream(), 200, media_type=media)


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'{name} must be a whole number, not "{raw}"') from None
    if value < 0:
        raise errors.bad_request(f"{name} must not be negative")
    return value


def _no_such_path() -> APIError:
    return APIError(
        Status(
            status="Failure",
            message="the server could not find the requested resource",
            reason="NotFound",
            details=StatusDetails(),
            code=404,
        )
    )
