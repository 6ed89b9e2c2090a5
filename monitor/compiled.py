"""The modules ``setup.py`` compiles to C with mypyc, and whether this process runs them so.

The per-event hot path with no I/O — the account state, the feature extractor and the
model's input vectors — is compiled at install (``VIGIL_COMPILE=0`` skips it); the same
modules run as plain Python when they are not. A compiled module shadows its source:
:func:`stale` names those whose source was edited after the build (reinstall with
``pip install -e .``, which ``make test`` does when they change).

>>> set(compiled()) <= set(MODULES)
True
>>> stale()
[]
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Not the models nor the pipeline: their classes are pickled into checkpoints, and
# mypyc's classes with constructor arguments do not unpickle.
MODULES = (
    "monitor.features.state",
    "monitor.features.geo",
    "monitor.features.extract",
    "monitor.detectors.inputs",
)


def _file(module: str) -> Path:
    path = importlib.import_module(module).__file__
    assert path is not None
    return Path(path)


def compiled() -> list[str]:
    """The modules of :data:`MODULES` that this process imported as C extensions."""
    return [m for m in MODULES if _file(m).suffix != ".py"]


def stale() -> list[str]:
    """Compiled modules older than their ``.py`` source: the source was edited since
    the build, and the process runs the old code."""
    out = []
    for module in compiled():
        built = _file(module)
        source = built.parent / (module.rsplit(".", 1)[1] + ".py")
        if source.exists() and source.stat().st_mtime > built.stat().st_mtime:
            out.append(module)
    return out
