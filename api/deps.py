"""Dependencies as ``Annotated`` aliases; everything comes from ``app.state`` set by
:func:`api.app.create_app`, nothing is built at import time. Who may call what:
:mod:`api.security` (``ViewerDep``, ``AnalystDep``, ``AdminDep``, re-exported here)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from prometheus_client import CollectorRegistry

from api.readiness import Readiness
from api.security import (
    AdminDep,
    AnalystDep,
    AuditDep,
    DocsDep,
    PrincipalDep,
    ProbeDep,
    ViewerDep,
)
from monitor.config import Settings
from monitor.ruleset import RulePack
from monitor.store import AlertStore, Casework


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> AlertStore:
    store: AlertStore = request.app.state.store
    return store


def get_casework(request: Request) -> Casework:
    """The support workflow over the app's store (built once by ``create_app``)."""
    casework: Casework = request.app.state.casework
    return casework


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


def get_readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.readiness
    return readiness


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[AlertStore, Depends(get_store)]
CaseworkDep = Annotated[Casework, Depends(get_casework)]
RegistryDep = Annotated[CollectorRegistry, Depends(get_registry)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]
RulesDep = Annotated[RuleControl, Depends(get_rules)]

__all__ = [
    "AdminDep",
    "AnalystDep",
    "AuditDep",
    "CaseworkDep",
    "DocsDep",
    "PrincipalDep",
    "ProbeDep",
    "ReadinessDep",
    "RegistryDep",
    "RuleControl",
    "RulesDep",
    "SettingsDep",
    "StoreDep",
    "ViewerDep",
]
