"""Synthetic county-lines contact records with a known ground truth.

:func:`simulate_county_lines` builds several months of call and SMS records for a small
drugs market: county lines run from London into Southend, Basildon, Harlow and Clacton and
local lines in Southend and Basildon, belonging to three groups. It contains what an analyst
looks for and what gets in the way:

- deal lines that receive many short contacts from customers and send bulk "flare" SMS;
- rebrands: a new handset takes over a line's customers, announced by a flare, while a few
  customers keep texting the old number for a while;
- holders who carry a personal phone alongside the line handset (same cells at the same
  times, never contacting each other), group bosses who call the holders;
- runners dispatched by the line after each purchase;
- customers in the importer town (some buying from two lines), each with a normal social
  life; background people in every town; businesses that receive many one-way calls (a taxi
  firm, a takeaway, a surgery) and a bulk-SMS reminder service, which look partly like lines;
- one line disrupted mid-period, after which half its customers stop and some of those buy
  from another line in the same town;
- an intelligence register whose harm evidence gives a ground-truth harm order, and a
  disruption log.

Identifiers are drawn only from Ofcom's ranges reserved for drama (mobile 07700 900000-900999,
landlines 01632 960000-960999, 020 7946 0000-0999, 0113 496 0000-0999), IMEIs have the
obviously synthetic type allocation code 00000000, so nothing real is ever generated. With
``identifiers="pseudonym"`` identifiers are random pseudonyms instead, which allows any scale.

Examples
--------
>>> sim = simulate_county_lines(seed=1, months=1)
>>> sorted(sim.truth_lines["importer"].unique())
['Basildon', 'Clacton', 'Harlow', 'Southend']
>>> sim.contacts["a_party"].str.startswith(("07700900", "01632960", "0207946", "0113496")).all()
np.True_
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from geointel.errors import ValidationError

log = logging.getLogger(__name__)

DAY = 86_400
#: Type allocation code of every synthetic IMEI: reserved-looking, never a real handset model.
SYNTHETIC_TAC = "00000000"

# name, centre (lat, lon), number of cells. Cells lie north-west of the centre so that the
# coastal towns' cells stay on land.
TOWNS: dict[str, tuple[float, float, int]] = {
    "London": (51.5450, -0.0553, 8),
    "Southend": (51.5459, 0.7077, 6),
    "Basildon": (51.5761, 0.4887, 5),
    "Harlow": (51.7727, 0.1023, 4),
    "Clacton": (51.7898, 1.1554, 4),
    "Chelmsford": (51.7356, 0.4685, 4),
}
_TOWN_SPREAD = {"London": (0.05, 0.08), "Harlow": (0.015, -0.03)}  # Harlow: east, in Essex
_DEFAULT_SPREAD = (0.015, 0.03)
_BACKGROUND_SHARE = {"London": 0.25, "Southend": 0.22, "Basildon": 0.18, "Harlow": 0.10,
                     "Clacton": 0.12, "Chelmsford": 0.13}


@dataclass(frozen=True)
class _LineSpec:
    line_id: str
    name: str
    group_id: str
    exporter: str
    importer: str
    rebrands: tuple[float, ...]  # switch times as fractions of the period
    customers: int
    harm: dict[str, int]


LINES: tuple[_LineSpec, ...] = (
    _LineSpec("L1", "TONY", "G1", "London", "Southend", (0.4,), 34,
              {"weapons": 2, "violence": 2, "cuckooed_addresses": 2, "exploited_children": 1,
               "vulnerable_adults": 1, "seizures": 2}),
    _LineSpec("L2", "JAY", "G1", "London", "Clacton", (0.3, 0.7), 30,
              {"weapons": 3, "violence": 3, "cuckooed_addresses": 3, "exploited_children": 3,
               "vulnerable_adults": 2, "seizures": 1}),
    _LineSpec("L3", "BANDO", "G2", "London", "Basildon", (), 40,
              {"weapons": 2, "violence": 3, "cuckooed_addresses": 3, "exploited_children": 1,
               "vulnerable_adults": 3, "seizures": 3}),
    _LineSpec("L4", "KILO", "G2", "London", "Harlow", (0.6,), 30,
              {"weapons": 1, "violence": 1, "cuckooed_addresses": 1, "exploited_children": 1,
               "vulnerable_adults": 1, "seizures": 1}),
    _LineSpec("L5", "SMOKEY", "G3", "Southend", "Southend", (), 26,
              {"weapons": 0, "violence": 1, "cuckooed_addresses": 0, "exploited_children": 0,
               "vulnerable_adults": 1, "seizures": 1}),
    _LineSpec("L6", "DOTTY", "G3", "Basildon", "Basildon", (0.25,), 28,
              {"weapons": 1, "violence": 1, "cuckooed_addresses": 1, "exploited_children": 0,
               "vulnerable_adults": 1, "seizures": 2}),
)
DISRUPTED_LINE = "L3"
DISPLACED_TO = "L6"
#: Weights of the harm evidence that make the ground-truth harm order.
HARM_WEIGHTS = {"weapons": 3, "violence": 3, "cuckooed_addresses": 2, "exploited_children": 4,
                "vulnerable_adults": 2, "seizures": 1}
_DRUGS = {"L1": "crack;heroin", "L2": "crack;heroin;cannabis", "L3": "crack;heroin",
          "L4": "heroin", "L5": "cannabis;cocaine", "L6": "crack"}

# Hour-of-day weights: ordinary social contact, and drug-market contact (later, into the night).
_SOCIAL_HOURS = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.3, 1, 3, 5, 6, 6, 6,
                          7, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4, 2], dtype=float)
_DRUG_HOURS = np.array([4, 3, 2, 1, 0.5, 0.5, 1, 2, 3, 4, 6, 7,
                        8, 8, 8, 8, 9, 9, 10, 10, 10, 9, 8, 6], dtype=float)
_SOCIAL_HOURS /= _SOCIAL_HOURS.sum()
_DRUG_HOURS /= _DRUG_HOURS.sum()


@dataclass(frozen=True)
class SimulatedLines:
    """Synthetic contact records and the ground truth they were made from.

    Attributes
    ----------
    contacts
        Contact records in the documented schema: ``timestamp`` (ISO 8601), ``a_party``,
        ``b_party``, ``kind`` (``call``/``sms``), ``duration_s``, ``imei``, ``cell_id``,
        ``cell_lat``, ``cell_lon`` (the a-party's handset and cell; blank for landlines).
    intel
        Line intelligence register: ``subject`` (a deal-line number), ``weapons``,
        ``violence``, ``cuckooed_addresses``, ``exploited_children``, ``vulnerable_adults``,
        ``drugs``, ``seizures``, ``notes``, ``grading`` (3x5x2, e.g. ``2BP``), ``date``.
    disruptions
        Police actions: ``line`` (the deal-line number at the time), ``date``, ``action``,
        ``outcome``, ``grading`` (major/moderate/minor), ``closure_type`` (1, 2 or blank).
    truth_handsets
        ``handset``, ``role`` (deal_line/holder/runner/customer/other), ``line_id``,
        ``group_id``, ``person_id``.
    truth_lines
        ``line_id``, ``name``, ``group_id``, ``exporter``, ``importer``, ``handsets`` (the
        chain in order, ``;``-separated), ``switch_dates`` (first use of each handset),
        ``holder`` (the holder's personal phone), ``harm_score``, ``harm_tier``,
        ``harm_rank`` (1 = most harmful), ``disrupted_on``.
    cells
        ``cell_id``, ``lat``, ``lon``, ``town``.
    """

    contacts: pd.DataFrame
    intel: pd.DataFrame
    disruptions: pd.DataFrame
    truth_handsets: pd.DataFrame
    truth_lines: pd.DataFrame
    cells: pd.DataFrame


class _Numbers:
    """Hands out identifiers: drama-range numbers, or random pseudonyms."""

    def __init__(self, rng: np.random.Generator, mode: str) -> None:
        self.rng = rng
        self.mode = mode
        self.mobiles = [f"07700900{i:03d}" for i in rng.permutation(1000)]
        self.landlines = ([f"01632960{i:03d}" for i in rng.permutation(1000)]
                          + [f"02079460{i:03d}" for i in rng.permutation(1000)]
                          + [f"01134960{i:03d}" for i in rng.permutation(1000)])
        self.imeis = rng.permutation(1_000_000)
        self.used = 0

    def _pseudonym(self) -> str:
        return "P" + "".join(f"{v:x}" for v in self.rng.integers(0, 16, 16))

    def mobile(self) -> str:
        if self.mode == "pseudonym":
            return self._pseudonym()
        if not self.mobiles:
            raise ValidationError(
                "simulate_county_lines: the scale needs more than the 1,000 mobile numbers of "
                "Ofcom's drama range; lower scale, or pass identifiers='pseudonym'")
        return self.mobiles.pop()

    def landline(self) -> str:
        if self.mode == "pseudonym":
            return self._pseudonym()
        if not self.landlines:
            raise ValidationError(
                "simulate_county_lines: the scale needs more landline numbers than Ofcom's "
                "drama ranges hold; lower scale, or pass identifiers='pseudonym'")
        return self.landlines.pop()

    def imei(self) -> str:
        if self.mode == "pseudonym":
            return self._pseudonym()
        serial = f"{self.imeis[self.used]:06d}"
        self.used += 1
        body = SYNTHETIC_TAC + serial
        return body + str(_luhn_digit(body))


def _luhn_digit(body: str) -> int:
    """Luhn check digit of an IMEI body (14 digits).

    >>> _luhn_digit("49015420323751")
    8
    """
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return (10 - total % 10) % 10


def _unit_hash(seed: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A deterministic uniform [0, 1) number per (a, b) pair (splitmix64 mixing)."""
    with np.errstate(over="ignore"):
        x = (a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ b.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
             ^ np.uint64(seed * 2 + 1))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


class _World:
    """People, handsets and records under construction."""

    def __init__(self, rng: np.random.Generator, numbers: _Numbers, days: int) -> None:
        self.rng = rng
        self.numbers = numbers
        self.days = days
        self.person_town: list[str] = []
        self.person_cells: list[list[int]] = []
        self.handset_number: list[str] = []
        self.handset_imei: list[str] = []
        self.handset_person: list[int] = []
        self.handset_landline: list[bool] = []
        self.role: dict[int, tuple[str, str, str]] = {}  # handset -> role, line, group
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.cells = self._make_cells()

    def _make_cells(self) -> pd.DataFrame:
        rows = []
        for town, (lat, lon, n) in TOWNS.items():
            dlat, dlon = _TOWN_SPREAD.get(town, _DEFAULT_SPREAD)
            for j in range(n):
                frac = (j + 0.5) / n
                rows.append({"cell_id": f"{town[:3].upper()}{j + 1:02d}",
                             "lat": round(lat + dlat * ((j * 7) % n) / n, 5),
                             "lon": round(lon - dlon * frac, 5), "town": town})
        return pd.DataFrame(rows)

    def person(self, town: str) -> int:
        in_town = np.flatnonzero(self.cells["town"].to_numpy() == town)
        self.person_town.append(town)
        self.person_cells.append(list(self.rng.choice(in_town, size=3, replace=True)))
        return len(self.person_town) - 1

    def handset(self, person: int, *, landline: bool = False) -> int:
        self.handset_number.append(self.numbers.landline() if landline
                                   else self.numbers.mobile())
        self.handset_imei.append("" if landline else self.numbers.imei())
        self.handset_person.append(person)
        self.handset_landline.append(landline)
        return len(self.handset_number) - 1

    def add(self, ts: Any, a: Any, b: Any, sms: Any, dur: Any) -> None:
        n = len(ts)
        self.parts.append((np.asarray(ts, np.int64), np.broadcast_to(a, n).astype(np.int64),
                           np.broadcast_to(b, n).astype(np.int64),
                           np.broadcast_to(sms, n).astype(bool), np.asarray(dur, np.int64)))

    def times(self, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray,
              hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poisson event times (seconds) for entities active over [lo, hi) days at ``rate``/day."""
        span = np.maximum(hi - lo, 0.0)
        counts = self.rng.poisson(span * rate)
        idx = np.repeat(np.arange(len(lo)), counts)
        day = np.floor(lo[idx] + self.rng.random(len(idx)) * span[idx])
        hour = self.rng.choice(24, size=len(idx), p=hours)
        secs = day * DAY + hour * 3600 + self.rng.integers(0, 3600, len(idx))
        return idx, secs.astype(np.int64)

    def pairs(self, a: np.ndarray, b: np.ndarray, rate: np.ndarray) -> None:
        """Two-way social contact between handsets a[i] and b[i] at ``rate`` per day."""
        lo = np.zeros(len(a))
        idx, ts = self.times(lo, lo + self.days, rate, _SOCIAL_HOURS)
        flip = self.rng.random(len(idx)) < 0.5
        src = np.where(flip, b[idx], a[idx])
        dst = np.where(flip, a[idx], b[idx])
        sms = self.rng.random(len(idx)) < 0.5
        dur = np.where(sms, 0, np.round(self.rng.lognormal(4.5, 0.9, len(idx)))).astype(int)
        self.add(ts, src, dst, sms, dur)

    def records(self, seed: int, start: np.datetime64) -> pd.DataFrame:
        ts, a, b, sms, dur = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        keep = (ts >= 0) & (ts < self.days * DAY) & (a != b)
        ts, a, b, sms, dur = ts[keep], a[keep], b[keep], sms[keep], dur[keep]
        order = np.lexsort((b, a, ts))
        ts, a, b, sms, dur = ts[order], a[order], b[order], sms[order], dur[order]
        person = np.asarray(self.handset_person)[a]
        landline = np.asarray(self.handset_landline)[a]
        # Where a person is: one of their three cells, fixed within each 3-hour block.
        u = _unit_hash(seed, person, ts // 10_800)
        choice = np.where(u < 0.55, 0, np.where(u < 0.85, 1, 2))
        cells_of = np.asarray(self.person_cells)
        cell_idx = cells_of[person, choice]
        numbers = np.asarray(self.handset_number, dtype=object)
        cell_id = self.cells["cell_id"].to_numpy(dtype=object)[cell_idx]
        lat = self.cells["lat"].to_numpy()[cell_idx]
        lon = self.cells["lon"].to_numpy()[cell_idx]
        stamps = np.datetime_as_string(start + ts.astype("timedelta64[s]"), unit="s")
        frame = pd.DataFrame({
            "timestamp": stamps,
            "a_party": numbers[a],
            "b_party": numbers[b],
            "kind": np.where(sms, "sms", "call"),
            "duration_s": dur,
            "imei": np.asarray(self.handset_imei, dtype=object)[a],
            "cell_id": np.where(landline, "", cell_id),
            "cell_lat": np.where(landline, np.nan, lat),
            "cell_lon": np.where(landline, np.nan, lon),
        })
        return frame


def _period_days(start: str, months: int) -> tuple[np.datetime64, int]:
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise ValidationError(f"simulate_county_lines: start {start!r} is not a date; "
                              "give an ISO date such as '2018-10-01'") from None
    if months < 1:
        raise ValidationError(f"simulate_county_lines: months={months}; give 1 or more")
    end = first + pd.DateOffset(months=months)
    return first.floor("D").to_datetime64().astype("datetime64[s]"), int((end - first).days)


def simulate_county_lines(
    *,
    seed: int,
    start: str = "2018-10-01",
    months: int = 5,
    scale: float = 1.0,
    identifiers: Literal["drama", "pseudonym"] = "drama",
) -> SimulatedLines:
    """Simulate county-lines contact records, intelligence and disruptions with their truth.

    Parameters
    ----------
    seed
        Seed of every random step; the same seed gives the same data.
    start
        First day of the records (ISO date).
    months
        Length of the period.
    scale
        Multiplies the number of customers and background people (and so the records).
        With drama-range numbers the scale is limited to about 1.4 by the 1,000 mobile
        numbers Ofcom reserves.
    identifiers
        ``"drama"`` (Ofcom drama-range numbers, synthetic IMEIs) or ``"pseudonym"``
        (random ``P`` + 16 hex identifiers, for large benchmark data).

    Returns
    -------
    SimulatedLines

    Examples
    --------
    >>> a = simulate_county_lines(seed=3, months=1)
    >>> b = simulate_county_lines(seed=3, months=1)
    >>> a.contacts.equals(b.contacts), len(a.truth_lines)
    (True, 6)
    """
    if scale <= 0:
        raise ValidationError(f"simulate_county_lines: scale={scale}; give a positive number")
    if identifiers not in ("drama", "pseudonym"):
        raise ValidationError(f"simulate_county_lines: identifiers={identifiers!r}; "
                              "use 'drama' or 'pseudonym'")
    start64, days = _period_days(start, months)
    rng = np.random.default_rng(seed)
    world = _World(rng, _Numbers(rng, identifiers), days)

    # Background people and their social ties.
    n_background = max(round(600 * scale), 60)
    towns = list(_BACKGROUND_SHARE)
    shares = np.array([_BACKGROUND_SHARE[t] for t in towns])
    bg_towns = rng.choice(len(towns), size=n_background, p=shares)
    bg_handsets: dict[str, list[int]] = {t: [] for t in towns}
    bg_all = []
    for t in bg_towns:
        p = world.person(towns[t])
        h = world.handset(p, landline=bool(rng.random() < 0.08))
        bg_handsets[towns[t]].append(h)
        bg_all.append(h)
    bg_arr = np.asarray(bg_all)
    src, dst = [], []
    for t in towns:
        local = np.asarray(bg_handsets[t])
        for h in local:
            k = rng.integers(2, 5)
            src += [h] * k
            same = rng.random(k) < 0.85
            dst += list(np.where(same, rng.choice(local, k), rng.choice(bg_arr, k)))
    sa, sb = np.asarray(src), np.asarray(dst)
    world.pairs(sa, sb, rng.uniform(0.1, 0.35, len(sa)))

    # Businesses: many one-way inbound calls, and a bulk-SMS reminder service.
    for town, name in (("Southend", "taxi"), ("Basildon", "takeaway"), ("Harlow", "surgery")):
        biz = world.handset(world.person(town), landline=True)
        world.role[biz] = ("other", "", "")
        clients = rng.choice(bg_handsets[town], size=min(50, len(bg_handsets[town])),
                             replace=False)
        zero = np.zeros(len(clients))
        idx, ts = world.times(zero, zero + days, np.full(len(clients), 1 / 12), _SOCIAL_HOURS)
        world.add(ts, clients[idx], biz, np.zeros(len(idx), bool),
                  rng.integers(30, 180, len(idx)))
        back = rng.random(len(idx)) < 0.05
        world.add(ts[back] + 600, biz, clients[idx][back], np.zeros(back.sum(), bool),
                  rng.integers(20, 90, back.sum()))
        log.debug("business %s in %s", name, town)
    bulk = world.handset(world.person("Chelmsford"), landline=True)
    world.role[bulk] = ("other", "", "")
    members = rng.choice(bg_arr, size=min(80, len(bg_arr)), replace=False)
    for day in range(3, days, 7):
        t0 = day * DAY + 10 * 3600
        world.add(t0 + rng.integers(0, 180, len(members)), bulk, members,
                  np.ones(len(members), bool), np.zeros(len(members), int))

    # Groups: a boss per group; lines with holders, runners and customers.
    bosses: dict[str, int] = {}
    holders: dict[str, int] = {}
    truth_lines = []
    customer_entries: list[tuple[int, int, float, float, float]] = []  # h, line, lo, hi, rate
    chains: dict[str, list[tuple[int, int]]] = {}  # line -> [(handset, start_s)]
    runners: dict[str, np.ndarray] = {}
    taken: set[int] = set()
    for spec in LINES:
        if spec.group_id not in bosses:
            boss = world.handset(world.person(spec.exporter))
            bosses[spec.group_id] = boss
            world.role[boss] = ("other", "", spec.group_id)
            world.pairs(np.full(3, boss), rng.choice(bg_handsets[spec.exporter], 3),
                        np.full(3, 0.2))
        holder_person = world.person(spec.exporter)
        holder = world.handset(holder_person)
        holders[spec.line_id] = holder
        world.role[holder] = ("holder", spec.line_id, spec.group_id)
        friends = rng.choice(bg_handsets[spec.exporter], 4, replace=False)
        world.pairs(np.full(4, holder), friends, np.full(4, 0.25))
        world.pairs(np.asarray([holder]), np.asarray([bosses[spec.group_id]]), np.array([0.8]))
        switches = [0] + [int((f * days + rng.integers(-4, 5)) * DAY) for f in spec.rebrands]
        chain = []
        for s in switches:
            h = world.handset(holder_person)  # the holder carries the line handset
            world.role[h] = ("deal_line", spec.line_id, spec.group_id)
            chain.append((h, s))
        chains[spec.line_id] = chain
        rs = []
        for _ in range(3):
            r = world.handset(world.person(spec.importer))
            world.role[r] = ("runner", spec.line_id, spec.group_id)
            world.pairs(np.full(3, r), rng.choice(bg_handsets[spec.importer], 3),
                        np.full(3, 0.2))
            rs.append(r)
        runners[spec.line_id] = np.asarray(rs)
        pool = [h for h in bg_handsets[spec.importer]
                if not world.handset_landline[h] and h not in taken]
        n_c = min(round(spec.customers * scale), len(pool))
        chosen = rng.choice(pool, size=n_c, replace=False)
        line_no = int(spec.line_id[1:])
        for c in chosen:
            taken.add(int(c))
            world.role[int(c)] = ("customer", spec.line_id, "")
            lo = 0.0 if rng.random() < 0.7 else float(rng.uniform(0, days * 0.7))
            hi = float(days) if rng.random() < 0.8 else float(rng.uniform(lo + 10, days + 10))
            customer_entries.append((int(c), line_no, lo, min(hi, days),
                                     float(1 / rng.uniform(3, 6))))
    # Holders of a group talk to each other.
    for g in sorted(set(s.group_id for s in LINES)):
        hs = [holders[s.line_id] for s in LINES if s.group_id == g]
        for i in range(len(hs)):
            for j in range(i + 1, len(hs)):
                world.pairs(np.asarray([hs[i]]), np.asarray([hs[j]]), np.array([0.3]))

    # Customers who also buy from the other line in their town.
    entries = list(customer_entries)
    by_town: dict[str, list[int]] = {}
    for spec in LINES:
        by_town.setdefault(spec.importer, []).append(int(spec.line_id[1:]))
    for e_i, (c, line_no, lo, hi, rate) in enumerate(customer_entries):
        others = [n for n in by_town[LINES[line_no - 1].importer] if n != line_no]
        if others and rng.random() < 0.12:
            entries[e_i] = (c, line_no, lo, hi, rate * 0.6)
            entries.append((c, others[0], lo, hi, rate * 0.6))
    # The disruption: half the disrupted line's customers stop; some go to another line.
    d_line = int(DISRUPTED_LINE[1:])
    d_day = float(round(days * 0.55))
    displaced_line = int(DISPLACED_TO[1:])
    final_entries = []
    for c, line_no, lo, hi, rate in entries:
        if line_no == d_line and hi > d_day and rng.random() < 0.5:
            final_entries.append((c, line_no, lo, d_day, rate))
            if rng.random() < 0.6:
                final_entries.append((c, displaced_line, d_day + float(rng.uniform(1, 7)), hi,
                                      rate))
        else:
            final_entries.append((c, line_no, lo, hi, rate))
    ent = np.asarray(final_entries)
    ent_c, ent_line = ent[:, 0].astype(int), ent[:, 1].astype(int)

    # Purchases: customer contacts the current line handset, the line dispatches a runner.
    idx, ts = world.times(ent[:, 2], ent[:, 3], ent[:, 4], _DRUG_HOURS)
    cust = ent_c[idx]
    line_of = ent_line[idx]
    for spec in LINES:
        line_no = int(spec.line_id[1:])
        sel = line_of == line_no
        t = ts[sel]
        c = cust[sel]
        chain = chains[spec.line_id]
        starts = np.asarray([s for _, s in chain])
        handsets = np.asarray([h for h, _ in chain])
        k = np.searchsorted(starts, t, side="right") - 1
        lag = (k > 0) & (t - starts[k] < 3 * DAY) & (rng.random(len(t)) < 0.25)
        k = np.where(lag, k - 1, k)
        line_h = handsets[k]
        first_sms = rng.random(len(t)) < 0.5
        world.add(t, c, line_h, first_sms,
                  np.where(first_sms, 0, rng.integers(10, 60, len(t))))
        more = rng.random(len(t)) < 0.4
        world.add(t[more] + rng.integers(60, 900, more.sum()), c[more], line_h[more],
                  np.ones(more.sum(), bool), np.zeros(more.sum(), int))
        reply = (rng.random(len(t)) < 0.15) & ~lag
        world.add(t[reply] + rng.integers(30, 180, reply.sum()), line_h[reply], c[reply],
                  np.ones(reply.sum(), bool), np.zeros(reply.sum(), int))
        go = ~lag
        runner = rng.choice(runners[spec.line_id], size=go.sum())
        d_t = t[go] + rng.integers(120, 480, go.sum())
        d_sms = rng.random(go.sum()) < 0.75
        world.add(d_t, line_h[go], runner, d_sms,
                  np.where(d_sms, 0, rng.integers(20, 90, go.sum())))
        back = rng.random(go.sum()) < 0.3
        world.add(d_t[back] + rng.integers(60, 600, back.sum()), runner[back],
                  line_h[go][back], np.ones(back.sum(), bool), np.zeros(back.sum(), int))
        # Flares: bulk SMS to the current customers; the first from a new handset is the rebrand.
        mine = ent_line == line_no
        ends = [*starts[1:], days * DAY]
        for h, s, e in zip(handsets, starts, ends, strict=True):
            t0 = s + (int(rng.integers(9, 12)) * 3600 if s else int(rng.uniform(0, 4) * DAY))
            while t0 < e:
                day = t0 / DAY
                active = mine & (ent[:, 2] <= day) & (ent[:, 3] > day)
                recipients = np.unique(ent_c[active])
                world.add(t0 + rng.integers(0, 240, len(recipients)), h, recipients,
                          np.ones(len(recipients), bool), np.zeros(len(recipients), int))
                t0 += int(rng.uniform(5, 9) * DAY)

    contacts = world.records(seed, start64)

    # Ground truth and registers.
    numbers = world.handset_number
    th = []
    for h, number in enumerate(numbers):
        role, line_id, group_id = world.role.get(h, ("other", "", ""))
        if role == "customer":
            group_id = next(s.group_id for s in LINES if s.line_id == line_id)
        th.append({"handset": number, "role": role, "line_id": line_id, "group_id": group_id,
                   "person_id": f"person{world.handset_person[h]:05d}"})
    truth_handsets = pd.DataFrame(th)
    day0 = pd.Timestamp(start64)
    intel_rows = []
    for spec in LINES:
        chain = chains[spec.line_id]
        for item, count in spec.harm.items():
            for _ in range(count):
                h, s = chain[int(rng.integers(0, len(chain)))]
                date = day0 + pd.Timedelta(seconds=int(s + rng.uniform(2, 20) * DAY))
                number = numbers[h]
                shown = f"{number[:5]} {number[5:]}" if identifiers == "drama" else number
                intel_rows.append({
                    "subject": shown,
                    "weapons": int(item == "weapons"), "violence": int(item == "violence"),
                    "cuckooed_addresses": int(item == "cuckooed_addresses"),
                    "exploited_children": int(item == "exploited_children"),
                    "vulnerable_adults": int(item == "vulnerable_adults"),
                    "drugs": _DRUGS[spec.line_id], "seizures": int(item == "seizures"),
                    "notes": f"{spec.name} line: report of {item.replace('_', ' ')}; "
                             f"number {shown} seen in {spec.importer}",
                    "grading": f"{rng.integers(1, 4)}{'ABC'[rng.integers(0, 3)]}P",
                    "date": min(date, day0 + pd.Timedelta(days=days - 1)).date().isoformat(),
                })
    intel = pd.DataFrame(intel_rows).sort_values(["date", "subject"], kind="stable")
    intel = intel.reset_index(drop=True)
    score = {s.line_id: sum(HARM_WEIGHTS[k] * v for k, v in s.harm.items()) for s in LINES}
    order = sorted(score, key=lambda x: (-score[x], x))
    rank = {line_id: i + 1 for i, line_id in enumerate(order)}
    for spec in LINES:
        chain = chains[spec.line_id]
        truth_lines.append({
            "line_id": spec.line_id, "name": spec.name, "group_id": spec.group_id,
            "exporter": spec.exporter, "importer": spec.importer,
            "handsets": ";".join(numbers[h] for h, _ in chain),
            "switch_dates": ";".join((day0 + pd.Timedelta(seconds=s)).date().isoformat()
                                     for _, s in chain),
            "holder": numbers[holders[spec.line_id]],
            "harm_score": score[spec.line_id],
            "harm_tier": "high" if rank[spec.line_id] <= 2 else (
                "medium" if rank[spec.line_id] <= 4 else "low"),
            "harm_rank": rank[spec.line_id],
            "disrupted_on": ((day0 + pd.Timedelta(days=d_day)).date().isoformat()
                             if spec.line_id == DISRUPTED_LINE else ""),
        })
    disruptions = _disruptions(rng, chains, numbers, day0, days, d_day)
    cells = world.cells.copy()
    log.info("simulated %d contact records, %d handsets, %d lines", len(contacts),
             len(numbers), len(LINES))
    return SimulatedLines(contacts=contacts, intel=intel, disruptions=disruptions,
                          truth_handsets=truth_handsets, truth_lines=pd.DataFrame(truth_lines),
                          cells=cells)


def _disruptions(rng: np.random.Generator, chains: dict[str, list[tuple[int, int]]],
                 numbers: list[str], day0: pd.Timestamp, days: int,
                 d_day: float) -> pd.DataFrame:
    def number_at(line_id: str, day: float) -> str:
        chain = chains[line_id]
        current = [h for h, s in chain if s <= day * DAY]
        return numbers[current[-1]]

    rows = [{"line": number_at(DISRUPTED_LINE, d_day),
             "date": (day0 + pd.Timedelta(days=d_day)).date().isoformat(),
             "action": "warrant at cuckooed address; runner arrested; wraps and cash seized",
             "outcome": "runner charged with possession with intent to supply; line continues "
                        "at reduced demand",
             "grading": "moderate", "closure_type": ""}]
    for line_id in sorted(chains):
        if line_id == DISRUPTED_LINE or rng.random() < 0.4:
            continue
        day = float(rng.integers(10, days - 10))
        rows.append({"line": number_at(line_id, day),
                     "date": (day0 + pd.Timedelta(days=day)).date().isoformat(),
                     "action": "stop and search of suspected runner",
                     "outcome": "small quantity seized; released under investigation",
                     "grading": "minor", "closure_type": ""})
    return pd.DataFrame(rows).sort_values("date", kind="stable").reset_index(drop=True)
