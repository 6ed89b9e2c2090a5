"""Great-circle distance, used for impossible-travel features.

>>> round(haversine_km(31.23, 121.47, 6.52, 3.38))  # Shanghai -> Lagos
12226
>>> haversine_km(1.0, 2.0, 1.0, 2.0)
0.0
"""

from __future__ import annotations

from math import asin, cos, radians, sin, sqrt

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = radians(lat1), radians(lat2)
    dp, dl = p2 - p1, radians(lon2 - lon1)
    a = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))
