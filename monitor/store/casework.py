"""The support workflow on the store: case lists, case detail, an account's risk view, and
every step an agent takes on a case — claim, assign, acknowledge, verdict, escalate, note,
customer contact, restore, password reset.

Each step is one transaction that locks the case, appends a row to the case's history
(``case_events``, append-only), updates its workflow state (``case_work``/``cases``),
writes an ``audit_log`` row (actor, role, before/after, request id) and — for a verdict —
one ``wallet.verdicts`` message per alert into the outbox, which the dispatcher publishes
exactly once so the supervised model learns from it. A step the case's state does not
allow raises :class:`~monitor.store.exceptions.InvalidTransition`; an unknown case
:class:`~monitor.store.exceptions.CaseNotFound`; a bad argument ``ValueError``.

Who may do what (roles, queues) is the API's decision: the store records ``actor`` and
``role`` as given. A ``request_id`` makes a step idempotent: retrying it returns the step
already recorded instead of doing it twice.

:class:`Casework` is the steps put together, each family in a module of its own:
reading (:mod:`~monitor.store.case_reads`), who works a case
(:mod:`~monitor.store.case_assignment`: claim, assign, acknowledge, escalate), what it
ends in (:mod:`~monitor.store.case_outcomes`: verdict, restore, password reset) and what
people write on it (:mod:`~monitor.store.case_notes`: notes, customer contacts), over the
transaction of :mod:`~monitor.store.case_desk`.

>>> from monitor.decision import Reason, decide
>>> from monitor.events import decode_verdict
>>> from monitor.responders.responder import PlaybookResponder, load_playbooks
>>> from monitor.store import AlertStore
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> responder = PlaybookResponder(load_playbooks("rules"))
>>> hit = Reason(code="rule:takeover_drain", text="drain after a password change",
...              rule_id="takeover_drain")
>>> d = decide(event_id="e1", account_id="a1", event_type="payment", event_ts=1.8e9,
...            rule_hits=[("critical", 0.95, hit)], anomaly=None,
...            actions=["disable_payment_features", "alert_support"], queue="account_security")
>>> store.save_decisions([d], responder=responder)
1
>>> desk = Casework(store, responder=responder, clock=lambda: 1.8e9 + 60)
>>> (case,), next_page = desk.list_cases(queue=["account_security"], status="open")
>>> case.priority, case.severity, case.assignee, next_page
('P1', 'critical', None, None)
>>> desk.claim(case.case_id, actor="ana", role="analyst").body
{'from': None, 'to': 'ana', 'forced': False}
>>> v = desk.give_verdict(case.case_id, "fraud", "customer denies the transfer",
...                       actor="ana", role="analyst")
>>> v.kind, v.body["verdict"], v.body["published"]
('verdict', 'fraud', 1)
>>> desk.get_case(case.case_id).status
'closed'
>>> message = store.pending_actions()[-1]  # the dispatcher sends it to wallet.verdicts
>>> message.topic, decode_verdict(message.body).verdict
('verdicts', 'fraud')
>>> desk.claim(case.case_id, actor="bo", role="analyst")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
monitor.store.exceptions.InvalidTransition: case case_...: is closed (verdict fraud by ana)...
>>> [e.kind for e in desk.case_detail(case.case_id).events]
['claim', 'verdict']
>>> store.close()
"""

from __future__ import annotations

from monitor.store.case_assignment import CaseAssignment
from monitor.store.case_notes import CaseNotes
from monitor.store.case_outcomes import CaseOutcomes
from monitor.store.case_reads import CaseReads

__all__ = ["Casework"]


class Casework(CaseReads, CaseAssignment, CaseOutcomes, CaseNotes):
    """The support workflow over an :class:`~monitor.store.AlertStore`'s database.

    A separate object rather than another ``AlertStore`` mixin: it has dependencies the
    alert writer does not (the ``responder`` that plans restores and password resets, the
    case ``policy`` whose SLAs an escalation uses, a ``clock`` tests can set), and the
    API builds it once beside the store. ``responder`` is only needed for
    :meth:`restore`, :meth:`force_password_reset` and ``give_verdict(restore=True)``;
    ``policy`` should be the playbooks' (``responder.playbooks.cases``).
    """
