"""The alert store: alerts in SQLite or PostgreSQL, written idempotently, read by the API.

>>> from monitor.decision import Reason, decide
>>> store = AlertStore("sqlite:///:memory:")
>>> store.create_schema()
>>> r = Reason(code="rule:brute_force", text="6 failed logins in 10 min",
...            rule_id="brute_force", values={"failed_logins_10m": 6})
>>> d = decide(event_id="e1", account_id="a1", event_type="login",
...            event_ts=1_700_000_000.0, rule_hits=[("medium", 0.6, r)], anomaly=None)
>>> store.save_decisions([d], positions=[(0, 42)])
1
>>> store.save_decisions([d])  # a replay stores nothing new
0
>>> page, total = store.list_alerts(account_id="a1", min_severity="low", rule_id="brute_force")
>>> total, page[0].severity, page[0].offset, page[0].reasons[0].values
(1, 'medium', 42, {'failed_logins_10m': 6})
>>> page[0].event_time.isoformat()
'2023-11-14T22:13:20+00:00'
>>> store.close()
"""

from monitor.store.audit import AuditContext, AuditEntry
from monitor.store.casework import Casework
from monitor.store.exceptions import StoreError, StoreUnavailable, UnknownUser, UserExists
from monitor.store.records import AlertRecord
from monitor.store.repository import AlertStore
from monitor.store.users import Principal, UserRecord

__all__ = [
    "AlertRecord",
    "AlertStore",
    "AuditContext",
    "AuditEntry",
    "Casework",
    "Principal",
    "StoreError",
    "StoreUnavailable",
    "UnknownUser",
    "UserExists",
    "UserRecord",
]
