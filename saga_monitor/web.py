"""The monitor's HTTP face, served by faust's web server (aiohttp).

HTML at ``/`` (overview) and ``/sagas/<order_id>`` (one saga), plain files that fetch the JSON
API under ``/api/`` and refetch whenever ``/api/live`` (server-sent events) says something
changed. ``/metrics`` for Prometheus, ``/health`` (= ``/api/health``) for probes: 503 until the
monitor sees every topic it reads and has read the operator's dead-letter decisions. The JSON
shapes are documented in ``docs/monitoring.md``. A request naming a Host the monitor does not
answer to gets a 400 before any page runs (``Settings.allowed_hosts``): a web page cannot read
the monitor through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import faust
from aiohttp import web as aiohttp_web
from prometheus_client import CONTENT_TYPE_LATEST

from saga_monitor import views
from saga_monitor.state import MonitorState

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
PAGE_LIMIT, MAX_LIMIT = 50, 500
#: Server-sent events: look for changes this often; say "still here" at least this often; end
#: the stream after a while (the browser reconnects) so that no request outlives a shutdown long.
LIVE_TICK, LIVE_KEEPALIVE, LIVE_LIFETIME = 0.25, 5.0, 30.0


def add_routes(app: faust.App, state: MonitorState, allowed_hosts: list[str]) -> None:
    files = {path.name: path.read_bytes() for path in STATIC.iterdir() if path.is_file()}
    app.web.web_app.middlewares.append(_trusted_hosts(allowed_hosts))

    def file(view, name: str, status: int = 200):
        return view.bytes(files[name], content_type=CONTENT_TYPES[Path(name).suffix],
                          status=status, headers={"Cache-Control": "no-cache"})

    @app.page("/", name="overview_page")
    async def overview_page(view, request):
        return file(view, "index.html")

    @app.page("/sagas/{order_id}", name="saga_page")
    async def saga_page(view, request, order_id: str):
        return file(view, "saga.html")

    @app.page("/static/{name}", name="static_file")
    async def static_file(view, request, name: str):
        if name not in files:
            return view.json({"detail": f"no such file: {name}"}, status=404)
        return file(view, name)

    async def health(view, request):
        problems = state.problems()
        recovering = app.in_recovery or app.rebalancing
        if recovering:
            problems = [*problems, "rebalancing or rebuilding the table from its changelog"]
        state.metrics.ready.set(0 if problems else 1)
        state.metrics.topics_missing.set(len(state.watch.missing))
        return view.json({"ready": not problems, "problems": problems,
                          "topics": {"missing": state.watch.missing,
                                     "unassigned": state.watch.unassigned},
                          "sagas": len(state.table)}, status=200 if not problems else 503)

    app.page("/health", name="health")(health)
    app.page("/api/health", name="api_health")(health)

    @app.page("/api/stats", name="api_stats")
    async def stats(view, request):
        return view.json(state.stats())

    @app.page("/api/sagas", name="api_sagas")
    async def sagas(view, request):
        query = request.query
        found = state.snapshot().search(query.get("q", ""), query.get("status", ""))
        return view.json(_page(state, found, query))

    @app.page("/api/stuck", name="api_stuck")
    async def stuck(view, request):
        return view.json(_page(state, state.snapshot().stuck, request.query))

    @app.page("/api/sagas/{order_id}", name="api_saga")
    async def saga(view, request, order_id: str):
        record = state.get(order_id)
        if record is None:
            return view.json({"detail": f"no events seen for order {order_id}"}, status=404)
        return view.json(views.detail(order_id, record, state.clock(), state.deadlines,
                                      state.decisions.by_letter))

    @app.page("/api/live", name="api_live")
    async def live(view, request):
        return await _live(app, state, request)

    @app.page("/metrics", name="metrics")
    async def metrics(view, request):
        state.snapshot()  # sets the gauges
        return view.bytes(state.metrics.exposition(),
                          content_type=CONTENT_TYPE_LATEST.split(";")[0])


def _trusted_hosts(allowed: list[str]):
    @aiohttp_web.middleware
    async def only_named_hosts(request, handler):
        if "*" in allowed or request.url.host in allowed:
            return await handler(request)
        return aiohttp_web.json_response({"detail": "Invalid host header"}, status=400)
    return only_named_hosts


def _page(state: MonitorState, rows: list[tuple], query) -> dict:
    limit = min(MAX_LIMIT, max(1, _int(query.get("limit"), PAGE_LIMIT)))
    offset = max(0, _int(query.get("offset"), 0))
    now, chosen = state.clock(), []
    for row in rows[offset:offset + limit]:
        record = state.get(row[0])
        if record is not None:  # expired since the snapshot
            chosen.append(views.row(row[0], record, now, state.deadlines,
                                    state.decisions.by_letter))
    return {"total": len(rows), "offset": offset, "limit": limit, "sagas": chosen}


async def _live(app: faust.App, state: MonitorState, request) -> aiohttp_web.StreamResponse:
    response = aiohttp_web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                                   "Cache-Control": "no-cache"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    started = said_at = loop.time()
    said = None
    try:
        await response.write(b"retry: 1000\n\n")
        while not app.should_stop and loop.time() - started < LIVE_LIFETIME:
            # Time alone makes sagas stuck: the stuck count changes the version too.
            version = (state.version, len(state.table), len(state.snapshot().stuck))
            if version != said or loop.time() - said_at > LIVE_KEEPALIVE:
                data = json.dumps(dict(zip(("version", "sagas", "stuck"), version, strict=True)))
                await response.write(f"event: change\ndata: {data}\n\n".encode())
                said, said_at = version, loop.time()
            await asyncio.sleep(LIVE_TICK)
    except ConnectionError:
        pass  # the browser went away
    return response


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
