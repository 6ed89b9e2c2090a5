"""The support workflow on the store as a whole (monitor.store.casework), on SQLite and
PostgreSQL: every step, read or write, refuses an unknown case, and bad people and bad
arguments are refused before anything is written. Each family of steps has its own tests:
test_case_reads.py, test_case_assignment.py, test_case_outcomes.py, test_case_notes.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.store.casework import Casework
from monitor.store.exceptions import CaseNotFound


def test_unknown_cases_and_bad_people_are_refused(desk: Casework, case_id: str) -> None:
    steps: list[Callable[[], object]] = [
        lambda: desk.get_case("case_nope"),
        lambda: desk.case_detail("case_nope"),
        lambda: desk.case_events("case_nope"),
        lambda: desk.claim("case_nope", actor="a", role="r"),
        lambda: desk.assign("case_nope", "b", actor="a", role="r"),
        lambda: desk.acknowledge("case_nope", actor="a", role="r"),
        lambda: desk.give_verdict("case_nope", "fraud", "n", actor="a", role="r"),
        lambda: desk.escalate("case_nope", "why", actor="a", role="r"),
        lambda: desk.add_note("case_nope", "n", actor="a", role="r"),
        lambda: desk.record_contact("case_nope", "chat", "s", True, actor="a", role="r"),
    ]
    for step in steps:
        with pytest.raises(CaseNotFound, match="case_nope"):
            step()
    with pytest.raises(ValueError, match="actor"):
        desk.claim(case_id, actor="", role="analyst")
    with pytest.raises(ValueError, match="unknown verdict"):
        desk.give_verdict(case_id, "maybe", "hmm", actor="ana", role="analyst")
    with pytest.raises(ValueError, match="note"):
        desk.give_verdict(case_id, "fraud", " ", actor="ana", role="analyst")
