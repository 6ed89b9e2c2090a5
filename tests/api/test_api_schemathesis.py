"""Property-based API testing with schemathesis: every operation of the OpenAPI schema is
called with generated valid and invalid data (odd unicode, huge numbers, garbage cursors,
wrong types) as the break-glass admin, against the real app over a seeded store (SQLite
and PostgreSQL), and no answer may be a server error (5xx). Case routes get a real case
id so the workflow steps run, not only 404s. Bounded: a few examples per operation and
backend (well under a minute in all).

The schema is driven through Hypothesis here rather than ``schema.parametrize()``, whose
lazy pytest integration does not run on this pytest version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from monitor.config import Settings
from monitor.reload import RuleSource
from monitor.ruleset import load_rules
from monitor.store import AlertStore
from tests.api import casefiles
from tests.api.auth import ADMIN_TOKEN, bearer, create_users
from tests.api.conftest import seed_decisions

ADMIN = bearer(ADMIN_TOKEN)
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
EXAMPLES = 12  # per operation and mode (valid, invalid); ~30 operations


@pytest.fixture
def seeded_app(store: AlertStore) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app over the seeded store (SQLite and PostgreSQL: their refusals differ, e.g.
    PostgreSQL rejects a NUL character in text)."""
    planner = casefiles.responder()
    store.save_decisions(seed_decisions(), responder=planner)
    case_ids = casefiles.seed_cases(store, planner)
    create_users(store)
    app = create_app(
        Settings(
            database_url="sqlite:///unused.db",
            admin_token=ADMIN_TOKEN,
            rate_limit_per_s=0,  # the fuzzer is one caller making many calls
        ),
        store,
        rules=RuleSource(RULES_DIR, loader=load_rules),
        responder=planner,
    )
    with TestClient(app) as client:
        yield client, case_ids


def test_no_operation_answers_a_server_error(
    seeded_app: tuple[TestClient, dict[str, str]],
) -> None:
    """Valid and invalid requests for every operation; every 5xx is collected with the
    request that caused it, so one run names them all."""
    client, case_ids = seeded_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, headers=ADMIN)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:
        real_case = {"case_id": case_ids["acc-1"]} if "{case_id}" in operation.path else None
        for mode in GenerationMode:
            strategy = operation.as_strategy(mode, path_parameters=real_case)
            try:
                check_all(strategy, failures)
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.label
    assert not failures, "\n".join(failures[:20])


def check_all(strategy: st.SearchStrategy[schemathesis.Case], failures: list[str]) -> None:
    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
    )
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(headers=ADMIN, checks=[not_a_server_error])
        except Exception as exc:  # a failed check (a group of them): report them all
            failures.append(f"{case.operation.label}: {case.as_curl_command()}\n  {exc}")

    run()
