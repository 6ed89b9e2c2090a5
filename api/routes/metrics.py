"""Prometheus exposition of the registry the app was built with (viewers and up). With
``VIGIL_METRICS_PORT`` set, this route is not mounted: the service serves the registry
unauthenticated on that port instead (``monitor.service``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import RegistryDep, ViewerDep

router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text exposition"}},
)
def metrics(_: ViewerDep, registry: RegistryDep) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
