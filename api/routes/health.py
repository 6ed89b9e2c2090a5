"""Liveness and readiness probes. ``/healthz`` is public; ``/readyz`` names internal
hosts, lag and database errors, so it needs a token unless ``VIGIL_PUBLIC_PROBES`` is set
(for orchestrators whose probes cannot send one)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ProbeDep, ReadinessDep
from api.schemas import LivenessPublic, ReadinessPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up", response_model=LivenessPublic)
async def healthz() -> LivenessPublic:
    """Always 200 while the process serves requests; checks nothing else on purpose,
    so a database outage does not get the process restarted. Public."""
    return LivenessPublic()


@router.get(
    "/readyz",
    summary="Readiness: database and every injected check",
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "at least one check failed"}},
)
async def readyz(_: ProbeDep, readiness: ReadinessDep) -> JSONResponse:
    """Runs all checks concurrently, each bounded by a timeout. 200 when all say
    ``ok``; 503 with what is wrong otherwise."""
    ready, checks = await readiness.run()
    body = ReadinessPublic(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
