"""The OpenAPI document and its Swagger UI, behind a token like everything else unless
``VIGIL_PUBLIC_DOCS`` is set (a browser cannot send a bearer token to load the page; the
demo sets it). Swagger UI's *Authorize* button then takes a token for the calls."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import DocsDep

router = APIRouter(tags=["docs"], include_in_schema=False)

OPENAPI_URL = "/openapi.json"
# Swagger UI loads its script and style from jsDelivr and starts with an inline script.
DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src https://fastapi.tiangolo.com data:; connect-src 'self'; frame-ancestors 'none'"
)


@router.get(OPENAPI_URL)
def openapi(_: DocsDep, request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs(_: DocsDep, request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(openapi_url=OPENAPI_URL, title=f"{request.app.title} - API")
    page.headers["content-security-policy"] = DOCS_CSP
    return page
