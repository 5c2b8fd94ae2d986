"""The FastAPI application: OpenAI's endpoints, the jobs API, the web page and what it lists (presets,
catalog, reports), ``/health``; client keys; errors in OpenAI's shape; the page's security headers on every
answer; one access-log line per request (method, path, status, time: no query string, no header)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from audiomm.serve import catalog_api, chat, jobs_api, transcribe, web
from audiomm.serve.errors import ApiError, error_response
from audiomm.serve.gateway import Gateway, gateway_of
from audiomm.serve.jobs import Jobs

log = logging.getLogger("audiomm.serve")
SWEEP_S = 300  # how often uploads past their retention are removed


async def require_key(request: Request) -> None:
    """``Authorization: Bearer KEY`` with one of the client keys (each compared in constant time); nothing
    is asked of a gateway started without keys (it listens on this machine only)."""
    keys = gateway_of(request).keys
    if not keys:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    sent = given.strip().encode()
    matches = [hmac.compare_digest(sent, k.encode()) for k in keys]  # every key compared: no early exit
    if scheme.lower() != "bearer" or not sent or not any(matches):
        what = "no API key was sent" if not sent else "the API key is not one this gateway accepts"
        raise ApiError(401, f"{what}; send Authorization: Bearer <key>", code="invalid_api_key")


class AccessLog:
    """One line per request; the path only (a query string or a header could carry a secret)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status, t0 = [0], time.monotonic()

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = (scope.get("client") or ("?", 0))[0]
            took = time.monotonic() - t0
            log.info("%s %s %s %d %.2fs", client, scope["method"], scope["path"], status[0], took)


class Errors:
    """Anything a route raises, before its answer has started, as an OpenAI error (:func:`api_error`)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = [False]

        async def sending(message):
            started[0] = started[0] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started[0] or scope["type"] != "http":
                raise
            await error_response(exc)(scope, receive, send)


def create_app(gateway: Gateway) -> FastAPI:
    """The application over ``gateway``; its systems are loaded and its jobs resumed before it answers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        gateway.loop = asyncio.get_running_loop()
        await anyio.to_thread.run_sync(gateway.pool.load_all)
        gateway.jobs = Jobs(gateway)
        resumed = gateway.jobs.resume()
        if resumed:
            log.info("resumed %d unfinished job(s)", resumed)
        sweeping = asyncio.ensure_future(sweep(gateway.jobs))
        yield
        sweeping.cancel()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gateway
    app.include_router(open_routes())
    app.include_router(web.open_routes())
    api = APIRouter(dependencies=[Depends(require_key)])
    for module in (transcribe, chat, jobs_api, catalog_api):
        api.include_router(module.router)
    api.include_router(model_routes())
    api.include_router(web.api_routes())
    app.include_router(api)
    web.mount_static(app)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(Errors)
    app.add_middleware(web.SecurityHeaders)
    app.add_middleware(AccessLog)
    return app


async def sweep(jobs: Jobs) -> None:
    """Remove the uploads past their retention every few minutes (a gateway may sit idle for days)."""
    while True:
        await asyncio.sleep(SWEEP_S)
        await anyio.to_thread.run_sync(jobs.sweep)


def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (an unknown path, a wrong method) in OpenAI's shape."""
    return error_response(ApiError(exc.status_code, str(exc.detail)))


def open_routes() -> APIRouter:
    router = APIRouter()

    @router.get("/health")
    async def health(request: Request) -> JSONResponse:
        """200 once the gateway answers (systems loaded or tried, jobs resumed); what is running and waiting;
        whether clients need a key, and the largest upload (the web page checks both before it asks)."""
        gw = gateway_of(request)
        systems = {name: gw.pool.state(name).split(":")[0] for name in gw.pool.systems}
        limits = {"keys": bool(gw.keys), "max_upload_mb": gw.settings.max_upload_mb}
        return JSONResponse({"status": "ok", "systems": systems, **gw.scheduler.status(), **limits})

    return router


def model_routes() -> APIRouter:
    router = APIRouter()

    def card(gw: Gateway, name: str) -> dict:
        s = gw.pool.systems[name]
        about = {"backend": s.config.backend, "model": s.config.model, "state": gw.pool.state(name)}
        return {"id": name, "object": "model", "created": gw.started, "owned_by": "audiomm", "audiomm": about}

    @router.get("/v1/models")
    async def models(request: Request) -> JSONResponse:
        """The systems, as OpenAI lists models."""
        gw = gateway_of(request)
        return JSONResponse({"object": "list", "data": [card(gw, n) for n in gw.pool.systems]})

    @router.get("/v1/models/{name}")
    async def model(name: str, request: Request) -> JSONResponse:
        gw = gateway_of(request)
        return JSONResponse(card(gw, gw.pool.get(name).name))

    return router
