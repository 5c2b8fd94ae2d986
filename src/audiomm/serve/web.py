"""The web page of the gateway: ``GET /`` and its static files (plain HTML, CSS and JavaScript shipped in
``static/``: nothing from another origin, nothing to build), the presets it offers, the evaluation reports
it links to (``--reports``), and the headers every answer carries (a strict Content-Security-Policy,
``nosniff``).

The page calls the same API as any client (``/v1/...``, with the client key when the gateway has keys).
A report opens in a new tab, which cannot send a key: on a gateway with keys its link carries a signature
(an HMAC of its path with a secret made at start), checked before the file is served."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from audiomm.serve.errors import ApiError
from audiomm.serve.gateway import Gateway, gateway_of
from audiomm.tasks.presets import all_presets

log = logging.getLogger("audiomm.serve")
STATIC = Path(str(resources.files("audiomm.serve").joinpath("static")))
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:;"
    " connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
REPORT_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
REPORT_NAME = "report.html"  # what `audiomm eval report` writes
MAX_REPORTS = 200
MAX_REPORT_DEPTH = 4  # folders below --reports searched for reports
SECURITY_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """Every answer gets the page's headers (an answer that sets its own policy keeps it); the page and
    its files are revalidated on each load (``no-cache``), so an upgraded gateway serves its own page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        page = scope["path"] == "/" or scope["path"].startswith("/static/")

        async def sending(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = dict(SECURITY_HEADERS, **({"cache-control": "no-cache"} if page else {}))
                added = [(k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in have]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, sending)


@dataclass(frozen=True)
class PresetCard:
    """A preset as the page offers it."""

    name: str
    kind: str
    description: str
    needs_template: bool


@dataclass(frozen=True)
class Report:
    """An evaluation report under ``--reports``: its folder (relative), when it was written, its link."""

    name: str
    modified: int
    url: str


def signature(gw: Gateway, rel: str) -> str:
    return hmac.new(gw.secret, rel.encode(), hashlib.sha256).hexdigest()


def report_url(gw: Gateway, rel: str) -> str:
    url = f"/reports/{quote(rel)}"
    return f"{url}?sig={signature(gw, rel)}" if gw.keys else url


def find_reports(root: Path) -> list[str]:
    """The ``report.html`` files under ``root`` (a few levels deep; links leading out skipped), newest first,
    as paths relative to ``root``."""
    real = Path(os.path.realpath(root))
    found = []
    for depth in range(MAX_REPORT_DEPTH + 1):
        for path in real.glob("/".join(["*"] * depth + [REPORT_NAME])):
            if Path(os.path.realpath(path)).is_relative_to(real) and path.is_file():
                found.append((path.stat().st_mtime, path.relative_to(real).as_posix()))
    return [rel for _, rel in sorted(found, reverse=True)[:MAX_REPORTS]]


def open_routes() -> APIRouter:
    """The page and the reports (the page asks for a key itself, the reports check their signature)."""
    router = APIRouter()

    @router.get("/")
    async def index() -> FileResponse:
        """The web page."""
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @router.get("/reports/{rel:path}")
    async def report(rel: str, request: Request) -> FileResponse:
        """An evaluation report, sandboxed (its own styles; no script runs)."""
        gw = gateway_of(request)
        root = gw.settings.reports
        sig = request.query_params.get("sig", "")
        if gw.keys and not hmac.compare_digest(sig.encode(), signature(gw, rel).encode()):
            raise ApiError(
                401,
                "this report link is not signed by this gateway; open it from the page",
                code="invalid_api_key",
            )
        if root is None or rel not in find_reports(root):
            raise ApiError(404, "no such report", code="report_not_found")
        headers = {"Content-Security-Policy": REPORT_CSP}
        return FileResponse(Path(root) / rel, media_type="text/html; charset=utf-8", headers=headers)

    return router


def api_routes() -> APIRouter:
    """What the page lists (behind the client key, as every ``/v1`` route)."""
    router = APIRouter()

    @router.get("/v1/presets")
    async def presets() -> JSONResponse:
        """The presets a job may name (bundled, and the operator's own)."""
        found = all_presets(on_skip=log.warning).values()
        cards = [PresetCard(p.name, p.kind, p.description, p.needs_template) for p in found]
        return JSONResponse({"object": "list", "data": [asdict(c) for c in cards]})

    @router.get("/v1/reports")
    async def reports(request: Request) -> JSONResponse:
        """The evaluation reports under ``--reports`` (none without it), newest first."""
        gw = gateway_of(request)
        root = gw.settings.reports
        listed = []
        for rel in find_reports(root) if root is not None else []:
            folder = Path(rel).parent.as_posix()
            modified = int((root / rel).stat().st_mtime)
            listed.append(Report(root.name if folder == "." else folder, modified, report_url(gw, rel)))
        return JSONResponse({"object": "list", "data": [asdict(r) for r in listed]})

    return router


def mount_static(app) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
