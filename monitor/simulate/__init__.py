"""Wallet simulator: an honest population with labelled attack campaigns (``vigil simulate``).

Accounts have a home city, usual devices and payees, spending habits, a day/night rhythm,
trips by plane, new phones, big purchases and honest mistakes; a share of them is hit by
campaigns from the support article (account takeover from far away or through a proxy in the
victim's city, credential stuffing fast or low-and-slow, brute force, card testing, top-up
then withdrawal). Ground truth is a separate stream of :class:`Label`, never part of an
event. The same :class:`SimConfig` always yields the same stream.

>>> from monitor.events import decode, encode
>>> cfg = SimConfig(accounts=50, days=0.5, seed=3, attack_share=0.2)
>>> stream = list(generate(cfg))
>>> all(a.ts <= b.ts for (a, _), (b, _) in zip(stream, stream[1:]))
True
>>> event, _ = stream[0]
>>> decode(encode(event)) == event, event.account_id.startswith("acct-")
(True, True)
>>> labels = [label for _, label in stream if label is not None]
>>> sorted({label.scenario for label in labels})  # doctest: +NORMALIZE_WHITESPACE
['account_takeover', 'brute_force', 'card_testing', 'credential_stuffing',
 'low_and_slow_stuffing', 'topup_withdrawal']
>>> stream == list(generate(cfg))
True
"""

from .cli import add_arguments, run_from_args
from .engine import generate
from .model import SCENARIOS, Label, SimConfig, SimStats
from .output import produce, write_jsonl

__all__ = [
    "SCENARIOS",
    "Label",
    "SimConfig",
    "SimStats",
    "add_arguments",
    "generate",
    "produce",
    "run_from_args",
    "write_jsonl",
]
