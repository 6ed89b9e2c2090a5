"""The wallet population: cities, accounts and the small helpers every scenario shares."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from monitor.events import Geo
from monitor.features.geo import haversine_km as distance_km

__all__ = [
    "CITIES",
    "COUNTRIES",
    "Account",
    "City",
    "Trip",
    "build_population",
    "distance_km",
    "geo_near",
    "merchant_pool",
    "new_id",
    "public_ip",
    "travel_seconds",
    "ts",
]


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str  # ISO 3166-1 alpha-2
    lat: float
    lon: float
    utc_offset: float  # hours, standard time in January
    weight: float  # share of home accounts


CITIES: tuple[City, ...] = (
    City("Shanghai", "CN", 31.2304, 121.4737, 8, 14),
    City("Beijing", "CN", 39.9042, 116.4074, 8, 10),
    City("Shenzhen", "CN", 22.5431, 114.0579, 8, 8),
    City("Guangzhou", "CN", 23.1291, 113.2644, 8, 7),
    City("Chengdu", "CN", 30.5728, 104.0668, 8, 5),
    City("Jakarta", "ID", -6.2088, 106.8456, 7, 9),
    City("Surabaya", "ID", -7.2575, 112.7521, 7, 4),
    City("Manila", "PH", 14.5995, 120.9842, 8, 8),
    City("Singapore", "SG", 1.3521, 103.8198, 8, 5),
    City("Kuala Lumpur", "MY", 3.1390, 101.6869, 8, 5),
    City("Bangkok", "TH", 13.7563, 100.5018, 7, 5),
    City("Ho Chi Minh City", "VN", 10.8231, 106.6297, 7, 3),
    City("Hong Kong", "HK", 22.3193, 114.1694, 8, 3),
    City("Tokyo", "JP", 35.6762, 139.6503, 9, 2),
    City("Seoul", "KR", 37.5665, 126.9780, 9, 2),
    City("Mumbai", "IN", 19.0760, 72.8777, 5.5, 2),
    City("Dubai", "AE", 25.2048, 55.2708, 4, 1),
    City("Moscow", "RU", 55.7558, 37.6173, 3, 1),
    City("Istanbul", "TR", 41.0082, 28.9784, 3, 1),
    City("Lagos", "NG", 6.5244, 3.3792, 1, 1),
    City("Nairobi", "KE", -1.2921, 36.8219, 3, 0.5),
    City("London", "GB", 51.5074, -0.1278, 0, 1),
    City("Paris", "FR", 48.8566, 2.3522, 1, 0.5),
    City("New York", "US", 40.7128, -74.0060, -5, 1),
    City("Sao Paulo", "BR", -23.5505, -46.6333, -3, 1),
    City("Mexico City", "MX", 19.4326, -99.1332, -6, 0.5),
    City("Sydney", "AU", -33.8688, 151.2093, 11, 0.5),
)

# country -> (wallet currency, units per US dollar, roughly)
COUNTRIES: dict[str, tuple[str, float]] = {
    "CN": ("CNY", 7.2), "ID": ("IDR", 15800.0), "PH": ("PHP", 56.0), "SG": ("SGD", 1.35),
    "MY": ("MYR", 4.6), "TH": ("THB", 35.0), "VN": ("VND", 24500.0), "HK": ("HKD", 7.8),
    "JP": ("JPY", 150.0), "KR": ("KRW", 1330.0), "IN": ("INR", 83.0), "AE": ("AED", 3.67),
    "RU": ("RUB", 90.0), "TR": ("TRY", 32.0), "NG": ("NGN", 1500.0), "KE": ("KES", 130.0),
    "GB": ("GBP", 0.79), "FR": ("EUR", 0.92), "US": ("USD", 1.0), "BR": ("BRL", 5.0),
    "MX": ("MXN", 17.0), "AU": ("AUD", 1.5),
}  # fmt: skip

# Activity by local hour (0..23), relative: quiet 1am-6am, peaks at lunch and evening.
HOURLY = (
    0.35, 0.15, 0.07, 0.05, 0.05, 0.10, 0.35, 0.80, 1.00, 1.00, 1.00, 1.10,
    1.40, 1.10, 0.90, 0.90, 0.95, 1.10, 1.40, 1.50, 1.60, 1.50, 1.10, 0.70,
)  # fmt: skip
HOURLY_MAX = max(HOURLY)
HOURLY_MEAN = sum(HOURLY) / len(HOURLY)

_PUBLIC_FIRST_OCTETS = tuple(
    o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198)
)


@dataclass(frozen=True, slots=True)
class Trip:
    """A journey: fly out, stay, fly back (epoch seconds; travel time grows with distance)."""

    depart: float  # leaves home
    begin: float  # lands at the destination
    end: float  # leaves the destination
    back: float  # home again
    city: City
    ip: str  # hotel or office wifi at the destination
    sim_prefix: str | None  # a local SIM's carrier range (a new phone bound there), if any


@dataclass(frozen=True, slots=True)
class Account:
    """One wallet holder's stable traits; behaviour over time lives in :mod:`.honest`."""

    index: int
    account_id: str
    home: City
    currency: str
    fx: float  # currency units per USD
    devices: tuple[str, ...]  # usual devices, primary first
    home_ip: str
    carrier_prefix: str  # first two octets of the mobile carrier's range
    bank_id: str  # own bank account, where withdrawals go
    sources: tuple[str, ...]  # top-up funding sources
    payees: tuple[str, ...]  # usual payees (people and favourite merchants)
    median_amount: float  # typical payment, wallet currency
    amount_sigma: float  # lognormal spread of payment amounts
    sessions_per_day: float
    hour_shift: float  # chronotype: >0 is a night owl
    balance: float  # opening balance, wallet currency
    web_share: float  # fraction of sessions on the web (rest app, a little api)
    trip: Trip | None  # a journey overlapping the simulated period, if any


def new_id(rng: random.Random, prefix: str, bits: int = 32) -> str:
    return f"{prefix}-{rng.getrandbits(bits):0{bits // 4}x}"


def public_ip(rng: random.Random, prefix: str | None = None) -> str:
    """A public-looking IPv4 address, optionally inside ``prefix`` ("a.b" or "a.b.c")."""
    parts = prefix.split(".") if prefix else [str(rng.choice(_PUBLIC_FIRST_OCTETS))]
    while len(parts) < 3:
        parts.append(str(rng.randrange(256)))
    parts.append(str(rng.randint(1, 254)))
    return ".".join(parts)


def merchant_pool(seed: int, size: int = 600) -> tuple[str, ...]:
    """Merchants shared by the whole population; earlier ones are more popular."""
    rng = random.Random(f"vigil-sim:{seed}:merchants")
    return tuple(f"merch-{n:05d}" for n in rng.sample(range(100_000), size))


def pick_merchant(rng: random.Random, pool: tuple[str, ...]) -> str:
    # Roughly Zipf-like popularity: squash a uniform draw toward the front of the pool.
    return pool[int(len(pool) * rng.random() ** 2.5)]


def geo_near(city: City, rng: random.Random, spread_deg: float = 0.05) -> Geo:
    """The city's coordinates with a few kilometres of jitter."""
    lat = max(-90.0, min(90.0, city.lat + rng.gauss(0.0, spread_deg)))
    lon = (city.lon + rng.gauss(0.0, spread_deg) + 180.0) % 360.0 - 180.0
    return Geo(lat=round(lat, 4), lon=round(lon, 4), country=city.country, city=city.name)


def ts(epoch: float) -> datetime:
    """Event time at millisecond precision, UTC."""
    return datetime.fromtimestamp(round(epoch, 3), UTC)


def local_hour(epoch: float, city: City, shift: float = 0.0) -> int:
    return int((epoch / 3600.0 + city.utc_offset - shift) % 24.0)


def far_cities(acct: Account, min_km: float = 2500.0) -> tuple[City, ...]:
    """Cities far from the account's home and from wherever it travels."""
    places = [acct.home] if acct.trip is None else [acct.home, acct.trip.city]

    def nearest(c: City) -> float:
        return min(distance_km(p.lat, p.lon, c.lat, c.lon) for p in places)

    far = tuple(c for c in CITIES if nearest(c) >= min_km)
    return far or (max(CITIES, key=nearest),)


def travel_seconds(a: City, b: City) -> float:
    """Door to door: about 800 km/h in the air plus an hour of taxiing and queues."""
    return (distance_km(a.lat, a.lon, b.lat, b.lon) / 800.0 + 1.0) * 3600.0


@cache
def _destinations(home: City) -> tuple[list[City], list[City], list[City]]:
    """(domestic, abroad, long-haul abroad) destinations from ``home``."""
    domestic = [c for c in CITIES if c.country == home.country and c != home]
    abroad = [c for c in CITIES if c.country != home.country]
    far = [c for c in abroad if distance_km(home.lat, home.lon, c.lat, c.lon) >= 4000.0]
    return domestic, abroad, far


def plan_trip(
    rng: random.Random, home: City, start: float, end: float, per_day: float = 0.03
) -> Trip | None:
    """Trips start at ``per_day`` per account and day: half domestic for one to three days,
    the rest abroad, a fifth of those long-haul (>= 4,000 km) for four to twelve days."""
    domestic, abroad, far = _destinations(home)
    r = rng.random()
    if domestic and r < 0.5:
        dest, stay = rng.choice(domestic), rng.uniform(1.0, 3.0)
    elif far and r > 0.9:
        dest, stay = rng.choices(far, [c.weight + 0.5 for c in far])[0], rng.uniform(4.0, 12.0)
    else:
        dest, stay = rng.choices(abroad, [c.weight + 0.5 for c in abroad])[0], rng.uniform(2, 6)
    flight = travel_seconds(home, dest)
    # Trips overlapping the period: those that start in it, plus those already under way.
    if rng.random() >= 1 - math.exp(-per_day * ((end - start) / 86400 + stay)):
        return None
    depart = rng.uniform(start - stay * 86400 - 2 * flight, end)
    begin = depart + flight
    leave = begin + stay * 86400
    sim = dest.country != home.country and rng.random() < 0.3
    prefix = public_ip(rng).rsplit(".", 2)[0] if sim else None
    return Trip(depart, begin, leave, leave + flight, dest, public_ip(rng), prefix)


def build_population(
    accounts: int,
    seed: int,
    merchants: tuple[str, ...],
    start: float,
    end: float,
    travel_per_day: float = 0.03,
) -> list[Account]:
    rng = random.Random(f"vigil-sim:{seed}:population")
    weights = [c.weight for c in CITIES]

    def trips(i: int) -> random.Random:  # apart, so the travel rate leaves the rest alone
        return random.Random(f"vigil-sim:{seed}:trip:{i}")

    out: list[Account] = []
    for i in range(accounts):
        home = rng.choices(CITIES, weights)[0]
        currency, fx = COUNTRIES[home.country]
        median_usd = rng.lognormvariate(math.log(18.0), 0.8)
        n_payees = rng.randint(3, 15)
        n_people = rng.randint(1, max(1, n_payees - 2))
        people = [new_id(rng, "payee") for _ in range(n_people)]
        favourites = {pick_merchant(rng, merchants) for _ in range(n_payees - n_people)}
        median = median_usd * fx
        out.append(
            Account(
                index=i,
                account_id=f"acct-{i:06d}",
                home=home,
                currency=currency,
                fx=fx,
                devices=tuple(new_id(rng, "dev", 48) for _ in range(1 + (rng.random() < 0.35))),
                home_ip=public_ip(rng),
                carrier_prefix=public_ip(rng).rsplit(".", 2)[0],
                bank_id=new_id(rng, "bank"),
                sources=tuple(
                    new_id(rng, rng.choice(("card", "bank"))) for _ in range(rng.randint(1, 2))
                ),
                payees=tuple(people + sorted(favourites)),
                median_amount=median,
                amount_sigma=rng.uniform(0.4, 0.9),
                sessions_per_day=min(14.0, max(0.7, rng.lognormvariate(math.log(2.2), 0.7))),
                hour_shift=rng.gauss(0.0, 1.0) + (2.5 if rng.random() < 0.08 else 0.0),
                balance=median * rng.uniform(2.0, 20.0),
                web_share=rng.choice((0.0, 0.05, 0.1, 0.3)),
                trip=plan_trip(trips(i), home, start, end, travel_per_day),
            )
        )
    return out
