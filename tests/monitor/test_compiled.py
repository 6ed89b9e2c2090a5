"""The modules ``setup.py`` compiles with mypyc behave exactly as their Python source.

A compiled module shadows its source, and mypyc drops docstrings, so their examples
would never run. A child process imports the package from a copy of the ``.py`` files
alone; there the doctests of every compiled module run, and the extractor and the
model's input vectors go over a simulated stream. Their output — by ``repr``, so types
count, not only values — and the account states at the end must equal this process's,
which runs whatever is installed (compiled, unless ``VIGIL_COMPILE=0``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from monitor.compiled import MODULES, compiled

ROOT = Path(__file__).resolve().parents[2]

# run here and in the child: the same code over the same events
DIGEST = """
import hashlib
from monitor.detectors.inputs import VECTORS
from monitor.features import AccountState, extract
from monitor.features.codec import encode_states
from monitor.simulate import SimConfig, generate

def digest():
    h = hashlib.sha256()
    states = {}
    for event, _ in generate(SimConfig(accounts=300, days=3.0, seed=11)):
        state = states.get(event.account_id)
        if state is None:
            state = states[event.account_id] = AccountState()
        features = extract(state, event, event.epoch)
        h.update(repr(features).encode())
        h.update(repr(VECTORS[event.type](features)).encode())
    h.update(encode_states(states))
    return h.hexdigest()
"""

CHILD = (
    """
import doctest, importlib, json, sys
modules = sys.argv[1:]
files, attempted, failed = [], 0, 0
for name in modules:
    module = importlib.import_module(name)
    files.append(module.__file__)
    result = doctest.testmod(module)
    attempted += result.attempted
    failed += result.failed
"""
    + DIGEST
    + """
print(json.dumps({"files": files, "attempted": attempted, "failed": failed,
                  "digest": digest()}))
"""
)


def _pure_run(tmp_path: Path) -> dict:
    shutil.copytree(
        ROOT / "monitor",
        tmp_path / "monitor",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"),
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *MODULES],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compiled_modules_match_their_source_and_its_examples_pass(tmp_path: Path) -> None:
    pure = _pure_run(tmp_path)
    # the child really ran the sources, and their examples
    assert all(f.startswith(str(tmp_path)) and f.endswith(".py") for f in pure["files"])
    assert pure["attempted"] >= 10 and pure["failed"] == 0, pure
    namespace: dict = {}
    exec(DIGEST, namespace)
    assert namespace["digest"]() == pure["digest"], f"compiled here: {compiled()}"


def test_setup_compiles_every_listed_module() -> None:
    """setup.py reads the list from monitor/compiled.py: each entry is a source file."""
    for module in MODULES:
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module
