"""``/v1/cases``: support cases — list them (most urgent first), read one with everything
an agent needs, and work it: claim, assign, acknowledge, verdict, escalate, note, customer
contact, restore payment features, force a password reset.

Viewers read (masked). Analysts work the cases of their queues (403 elsewhere); taking
over a case someone else holds (``force``) is for admins. Every step goes through
:class:`~monitor.store.Casework`, which writes the case's history, the audit row (actor,
role and request id of the caller) and, for a verdict, one ``wallet.verdicts`` message per
alert. Unknown case: 404; a step the case's state does not allow: 409; a bad argument: 422.

The routes, by what they do: :mod:`~api.routes.cases.reads` (list, read, reveal),
:mod:`~api.routes.cases.assignment` (claim, assign, acknowledge, escalate),
:mod:`~api.routes.cases.verdicts` (one case, or many at once),
:mod:`~api.routes.cases.notes` (notes, customer contacts) and
:mod:`~api.routes.cases.commands` (restore, password reset);
:mod:`~api.routes.cases.access` has what they share (who may work a case, refusals).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes.cases import assignment, commands, notes, reads, verdicts

__all__ = ["router"]

router = APIRouter()
router.include_router(reads.router)
router.include_router(assignment.router)
router.include_router(verdicts.router)  # POST /bulk/verdict before /{case_id}/verdict
router.include_router(notes.router)
router.include_router(commands.router)
