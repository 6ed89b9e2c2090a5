"""Dependencies as ``Annotated`` aliases; everything comes from ``app.state`` set by
:func:`api.app.create_app`, nothing is built at import time."""

from __future__ import annotations

import secrets
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry

from api.readiness import Readiness
from monitor.config import Settings
from monitor.ruleset import RulePack
from monitor.store import AlertStore


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> AlertStore:
    store: AlertStore = request.app.state.store
    return store


def get_registry(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry = request.app.state.registry
    return registry


class ReloadResult(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def version(self) -> str: ...
    @property
    def problems(self) -> list[str]: ...


class RuleControl(Protocol):
    """What the API may do with the rule pack of the process it runs in (the monitor's
    ``RuleSource``): read it and ask for a reload. Nothing else of the pipeline."""

    pack: RulePack
    loaded_at: float
    last_problems: list[str]

    def reload(self) -> ReloadResult: ...


def get_rules(request: Request) -> RuleControl:
    rules: RuleControl | None = request.app.state.rules
    if rules is None:
        raise HTTPException(503, "this process does not run the monitor: no rule pack here")
    return rules


_bearer = HTTPBearer(auto_error=False)


def require_admin(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Admin endpoints need ``Authorization: Bearer <VIGIL_ADMIN_TOKEN>`` (full roles and
    users come with the support console)."""
    if settings.admin_token is None:
        raise HTTPException(503, "admin endpoints are disabled: set VIGIL_ADMIN_TOKEN")
    expected = settings.admin_token.get_secret_value()
    if credentials is None or not secrets.compare_digest(credentials.credentials, expected):
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})


def get_readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.readiness
    return readiness


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[AlertStore, Depends(get_store)]
RegistryDep = Annotated[CollectorRegistry, Depends(get_registry)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]
RulesDep = Annotated[RuleControl, Depends(get_rules)]
AdminDep = Annotated[None, Depends(require_admin)]
