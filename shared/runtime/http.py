"""Each service's small HTTP surface: health, operational state, and its own routes.

Guarantees: a request whose Host is not one of the service's names is refused (400) before any
route runs, so a web page cannot reach the service through DNS rebinding; with an API token,
every route that changes something needs it, and so does every read where reads need it
(``Settings.reads_need_token``: by default in secure mode), while ``/health`` and ``/metrics``
stay open for probes and Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Match

from shared.metrics import ServiceMetrics


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our event loop: the service, not uvicorn, owns SIGTERM/SIGINT."""

    def capture_signals(self):
        return contextlib.nullcontext()


class HttpServer:
    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off")
        self._server = _EmbeddedServer(config)
        self.host = host

    @property
    def port(self) -> int | None:
        servers = getattr(self._server, "servers", [])
        if not servers or not servers[0].sockets:
            return None
        return servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def serve(self, stopping: asyncio.Event) -> None:
        task = asyncio.create_task(self._server.serve())
        waiter = asyncio.create_task(stopping.wait())
        await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        self._server.should_exit = True
        await task
        if not self._server.started:
            raise RuntimeError(f"HTTP server could not listen on {self.host}:"
                               f"{self._server.config.port}")


Credentials = Annotated[HTTPAuthorizationCredentials | None,
                        Depends(HTTPBearer(auto_error=False, description="SAGA_API_TOKEN"))]


def bearer_token(expected: str) -> Callable[..., Awaitable[None]]:
    """A dependency: the request must carry ``Authorization: Bearer <expected>``, else 401.
    Compared as bytes, in constant time: a header of any characters is a 401, never a 500."""
    wanted = expected.encode()

    async def check(credentials: Credentials) -> None:
        # Starlette hands header values over as latin-1 text: this gives back their bytes.
        presented = credentials.credentials.encode("latin-1", "replace") if credentials else b""
        if not secrets.compare_digest(presented, wanted):
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})
    return check


def guards(token: str | None, reads_need_token: bool) -> tuple[list, list]:
    """The dependencies of a route that writes, and of one that reads: the token's check,
    or nothing where no token is configured (or reads do not need it)."""
    writes = [Depends(bearer_token(token))] if token else []
    return writes, writes if reads_need_token else []


def operational_app(name: str, status: Callable[[], Awaitable[dict]],
                    parked: Callable[[], Awaitable[list[dict]]],
                    retry_parked: Callable[[str], Awaitable[bool]],
                    metrics: ServiceMetrics, *, writes: Sequence = (), reads: Sequence = (),
                    allowed_hosts: Sequence[str] = ("*",)) -> FastAPI:
    """Health, metrics and manual-intervention endpoints every service shares; add routers
    (with ``reads`` or ``writes`` as their dependencies, see :func:`guards`)."""
    app = FastAPI(title=name, description=f"{name} of the order saga")
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def allow_every_method_of_the_path(request: Request, call_next):
        """Starlette's 405 names only the methods of the first route that matched the path;
        HTTP says Allow lists all of them."""
        response = await call_next(request)
        if response.status_code == 405:
            methods = {method for route in app.routes if isinstance(route, APIRoute)
                       and route.matches(request.scope)[0] is not Match.NONE
                       for method in route.methods}
            response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @app.get("/health", summary="200 once started while its consumer is not failing; 503 otherwise. "
             "The body also reports the outbox and the relay (relay_failing_since)")
    async def health() -> JSONResponse:
        state = await status()
        return JSONResponse(state, status_code=200 if state["ready"] else 503)

    @app.get("/parked", summary="Events parked for manual intervention, and why",
             dependencies=list(reads))
    async def parked_events() -> dict:
        return {"parked": await parked()}

    @app.post("/parked/{event_id}/retry", summary="Retry a parked event where it is parked "
              "(from its first attempt), without its dead letter", dependencies=list(writes))
    async def retry_parked_event(event_id: str) -> dict:
        if not await retry_parked(event_id):
            raise HTTPException(404, f"no parked event {event_id}")
        return {"event_id": event_id, "status": "WAITING"}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app
