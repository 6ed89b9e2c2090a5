"""Build hook: compile the per-event feature code to C with mypyc.

Everything else about the package is in ``pyproject.toml``. Why a compiler: the
feature extractor is half of the pipeline's time per event (``vigil bench core``),
and its work is dozens of small dict writes, byte-array scans and arithmetic per
event — what the interpreter is slowest at. mypyc compiles these modules, unchanged
and still plain typed Python, into C extensions (the same modules run interpreted
when not compiled, and ``tests/monitor/test_compiled.py`` checks that both give
identical features). ``VIGIL_COMPILE=0 pip install .`` skips the compiler.

A compiled module shadows its ``.py`` source: after editing one, reinstall
(``make test`` and ``make demo`` do it); the test suite refuses to run against a
compiled module older than its source (``monitor.compiled.stale``).
"""

from __future__ import annotations

import os
import runpy
import tempfile

from setuptools import setup

# the list lives beside the code that reports what runs compiled (``vigil bench``)
MODULES = runpy.run_path("monitor/compiled.py")["MODULES"]
COMPILED = [m.replace(".", "/") + ".py" for m in MODULES]

MYPYC_CONFIG = """
[mypy]
python_version = 3.11
ignore_missing_imports = True
check_untyped_defs = True

[mypy-river.*]
follow_imports = skip
"""


def ext_modules() -> list:
    if os.environ.get("VIGIL_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    # Not pyproject.toml's [tool.mypy]: its pydantic plugin is not in the build
    # environment, and following river's imports (numpy, scipy, pandas) made this
    # build take 8 minutes instead of 8 seconds; river's names are Any here.
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write(MYPYC_CONFIG)
    try:  # mypycify type-checks and generates the C now; the build uses its output
        return mypycify(["--config-file", config.name, *COMPILED], opt_level="3")
    finally:
        os.unlink(config.name)


setup(ext_modules=ext_modules())
