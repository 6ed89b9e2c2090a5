"""Dependencies as ``Annotated`` aliases; everything comes from ``app.state`` set by
:func:`api.app.create_app`, nothing is built at import time."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from api.readiness import Readiness
from monitor.config import Settings
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


def get_readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.readiness
    return readiness


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[AlertStore, Depends(get_store)]
RegistryDep = Annotated[CollectorRegistry, Depends(get_registry)]
ReadinessDep = Annotated[Readiness, Depends(get_readiness)]
