"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ReadinessDep
from api.schemas import LivenessPublic, ReadinessPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up", response_model=LivenessPublic)
async def healthz() -> LivenessPublic:
    """Always 200 while the process serves requests; checks nothing else on purpose,
    so a database outage does not get the process restarted."""
    return LivenessPublic()


@router.get(
    "/readyz",
    summary="Readiness: database and every injected check",
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "at least one check failed"}},
)
async def readyz(readiness: ReadinessDep) -> JSONResponse:
    """Runs all checks concurrently, each bounded by a timeout. 200 when all say
    ``ok``; 503 with what is wrong otherwise."""
    ready, checks = await readiness.run()
    body = ReadinessPublic(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
