"""The registry of named functions a rule expression may call, with their signatures.

The compiler checks every call against the signature (argument count and types), so a
wrong call is a load error with file:line, never a ``TypeError`` on a live event.
Function names may not shadow feature names (rules read features as plain names).

A function with a ``list_kind`` takes a list: a literal (``['CN', 'SG']``) or the name of
one of the pack's named lists as a string constant (``'high_risk_countries'``, see
``monitor/ruleset/lists.py``). The compiler resolves either to a constant at load time —
a frozenset of strings (``"strings"``) or a network table (``"networks"``).

>>> FUNCTIONS["in_list"].fn("CN", ["CN", "SG"])
True
>>> FUNCTIONS["ip_in"].fn("192.0.2.9", ["192.0.2.0/24"])
True
>>> round(FUNCTIONS["geo_distance_km"].fn(31.23, 121.47, 39.9, 116.4))
1067
>>> FUNCTIONS["minutes"].signature
'minutes(number) -> float'
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any, Literal

from monitor.features.geo import haversine_km
from monitor.ruleset.lists import ip_in

NUMBER = "number"  # int, float or bool


def in_list(value: Any, items: Container[Any]) -> bool:
    return value in items


def minutes(seconds: float) -> float:
    return seconds / 60.0


@dataclass(frozen=True)
class Function:
    fn: Callable[..., Any]
    args: tuple[str, ...]  # argument types: "number", "str", "list", "any"
    result: str
    variadic: bool = False  # the last argument type repeats (min, max)
    list_kind: Literal["strings", "networks"] | None = None  # how its "list" argument resolves

    @property
    def signature(self) -> str:
        name = self.fn.__name__
        dots = ", ..." if self.variadic else ""
        return f"{name}({', '.join(self.args)}{dots}) -> {self.result}"


FUNCTIONS: dict[str, Function] = {
    "geo_distance_km": Function(haversine_km, (NUMBER,) * 4, "float"),
    "in_list": Function(in_list, ("any", "list"), "bool", list_kind="strings"),
    "ip_in": Function(ip_in, ("str", "list"), "bool", list_kind="networks"),
    "minutes": Function(minutes, (NUMBER,), "float"),
    "abs": Function(abs, (NUMBER,), "float"),
    "min": Function(min, (NUMBER, NUMBER), "float", variadic=True),
    "max": Function(max, (NUMBER, NUMBER), "float", variadic=True),
}
