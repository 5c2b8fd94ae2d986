"""The catalog for the web page: the families (sizes, formats, licences), what fits a GPU and RAM (the
``audiomm catalog fits`` answer), and each family's page (the Markdown ``audiomm catalog pages`` writes,
made on the fly), from the gateway's :class:`~audiomm.serve.library.Library`."""

from __future__ import annotations

from dataclasses import asdict

import anyio
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from audiomm import sizing
from audiomm.catalog.render import family_markdown, family_page, slug
from audiomm.catalog.snapshots import Snapshot
from audiomm.serve.errors import ApiError
from audiomm.serve.gateway import gateway_of
from audiomm.serve.uploads import label
from audiomm.serve.wire import fits_request

router = APIRouter()


def about(snap: Snapshot) -> dict:
    return {"date": snap.date, "source": snap.source}


@router.get("/v1/catalog/families")
async def families(request: Request) -> JSONResponse:
    """Every family: parameters, memory at bf16, formats, licence, downloads, repos; most downloaded first."""
    snap, _, rows = await gateway_of(request).library.load()
    return JSONResponse({"object": "list", "snapshot": about(snap), "data": [asdict(r) for r in rows]})


@router.get("/v1/catalog/fits")
async def fits(request: Request) -> JSONResponse:
    """``audiomm catalog fits``: the families that fit ``vram`` GB of GPU memory and/or ``ram`` GB of RAM,
    each at the best precision that fits, most downloaded first."""
    asked = fits_request(request.query_params)
    snap, cat, _ = await gateway_of(request).library.load()
    found = await anyio.to_thread.run_sync(lambda: sizing.fits(cat, asked.vram_gb, asked.ram_gb))
    body = {"object": "list", "snapshot": about(snap), "families": len(cat.families), **asdict(asked)}
    return JSONResponse({**body, "data": [{**asdict(f), "slug": slug(f.family)} for f in found]})


@router.get("/v1/catalog/families/{name}")
async def page(name: str, request: Request) -> Response:
    """A family's page (Markdown, as ``audiomm catalog pages`` writes ``families/NAME.md``)."""
    snap, cat, _ = await gateway_of(request).library.load()
    found = next((f for f in cat.families if slug(f.family) == name or f.family == name), None)
    if found is None:
        raise ApiError(
            404, f"no family {label(name)!r} in the catalog", param="name", code="family_not_found"
        )
    text = await anyio.to_thread.run_sync(lambda: family_markdown(family_page(cat, found, snap)))
    return Response(text, media_type="text/markdown; charset=utf-8")
