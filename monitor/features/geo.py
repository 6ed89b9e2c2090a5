"""Great-circle distance, used for impossible-travel features.

>>> round(haversine_km(31.23, 121.47, 6.52, 3.38))  # Shanghai -> Lagos
12226
>>> haversine_km(1.0, 2.0, 1.0, 2.0)
0.0
"""

from __future__ import annotations

from math import asin, cos, pi, sin, sqrt

EARTH_RADIUS_KM = 6371.0088


_RAD = pi / 180.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    # degrees -> radians by one multiplication and squares as products: the same
    # formula with half the calls (it runs for almost every event)
    p1, p2 = lat1 * _RAD, lat2 * _RAD
    h = sin((p2 - p1) * 0.5)
    g = sin((lon2 - lon1) * _RAD * 0.5)
    a = h * h + cos(p1) * cos(p2) * g * g
    return 2.0 * EARTH_RADIUS_KM * asin(sqrt(a) if a < 1.0 else 1.0)
