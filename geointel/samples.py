"""The embedded default sample: deterministic, clearly SYNTHETIC partner data on real geography.

Partner data (service registers, deaths registers, phone contact records, line intelligence)
cannot be published, so the app and the tests run on a synthetic sample placed on the real
LSOAs of the chosen area. :func:`build_sample` writes it; the same LSOA table and seed always
give byte-identical files (fixed float formatting, sorted rows, no clock times).

What is generated here:

- ``services.csv``: treatment hubs in the real towns, satellites in some smaller towns (and
  deliberately none in others: coverage is "patchy"), outreach in the most deprived LSOAs,
  pharmacies holding naloxone (most closed evenings and weekends), hostel naloxone points.
- ``candidates.csv``: synthetic candidate sites for new clinics.
- ``deaths.csv``: drug-poisoning deaths and non-fatal overdoses drawn per LSOA from a Poisson
  law whose rate grows with deprivation, with a few LSOAs given an extra-elevated rate;
  ``truth/deaths_rate.csv`` says which, and the expected counts.

Contact records, line intelligence and their ground truth come from
:func:`geointel.network.simulate.simulate_county_lines`. ``manifest.json`` lists every file
with its sha256, the seed, the generator version and the SYNTHETIC label.

Examples
--------
>>> from shapely.geometry import box
>>> import geopandas as gpd
>>> lsoas = gpd.GeoDataFrame({
...     "lsoa_code": ["E01000001", "E01000002"], "lad_code": ["E06000033"] * 2,
...     "lad_name": ["Southend-on-Sea"] * 2, "population": [1500, 1600],
...     "imd_decile": [1, 9], "centroid_easting": [588500.0, 589500.0],
...     "centroid_northing": [185500.0, 185500.0]},
...     geometry=[box(588000, 185000, 589000, 186000), box(589000, 185000, 590000, 186000)],
...     crs="EPSG:27700")
>>> services = make_services(lsoas, seed=1)
>>> services.loc[services["kind"] == "treatment_hub", "name"].tolist()
['Sample treatment hub 1 (Southend-on-Sea)']
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geointel import __version__
from geointel._progress import Progress, report
from geointel.errors import CRSError, DataFileError, ValidationError

log = logging.getLogger(__name__)

#: Version of the generator; bump it whenever the same seed would give different bytes.
GENERATOR_VERSION = "1"
LABEL = "SYNTHETIC — not real data"
#: Columns the LSOA table passed to :func:`build_sample` must have.
LSOA_COLUMNS = ("lsoa_code", "lad_code", "lad_name", "population", "imd_decile",
                "centroid_easting", "centroid_northing")

#: Study period of the deaths register (police.uk data in the mirror cover 2018-10..2019-02).
DEATHS_START = "2016-01-01"
DEATHS_END = "2019-02-28"
#: Drug-poisoning deaths per 100,000 residents per year over the whole area (England runs
#: at 5-10, the East of England near the bottom of that range).
DEATH_RATE_PER_100K = 5.5
#: Non-fatal overdoses recorded per death (ambulance call-outs, naloxone administrations).
NON_FATAL_PER_DEATH = 5.0
#: Relative risk grows by this factor per decile more deprived (about 6x from decile 10 to 1).
RISK_PER_DECILE = 1.22
#: Share of LSOAs (drawn among deciles 1-3) given an extra-elevated rate, and its multiplier.
ELEVATED_SHARE = 0.02
ELEVATED_MULTIPLIER = 3.0

# Independent random streams, so changing one part of the sample leaves the others alone.
_STREAMS = {"services": 1, "candidates": 2, "deaths": 3}

# Real town centres (BNG metres) in the SET area: (name, district code, easting, northing).
# Treatment hubs sit in the main towns.
_HUB_TOWNS = (
    ("Southend-on-Sea", "E06000033", 588170, 185720),
    ("Grays", "E06000034", 561490, 177900),
    ("Basildon", "E07000066", 570400, 188770),
    ("Chelmsford", "E07000070", 570940, 206760),
    ("Colchester", "E07000071", 599730, 225190),
    ("Harlow", "E07000073", 544660, 209890),
    ("Clacton-on-Sea", "E07000076", 617540, 214850),
)
# Satellites in some smaller towns only; rural, coastal and small towns such as Halstead,
# Burnham-on-Crouch, Great Dunmow, Walton-on-the-Naze and Jaywick have none (the gap that
# the siting analysis is meant to find).
_SATELLITE_TOWNS = (
    ("Shoeburyness", "E06000033", 593950, 185270),
    ("Tilbury", "E06000034", 564040, 176420),
    ("Stanford-le-Hope", "E06000034", 568920, 182260),
    ("Wickford", "E07000066", 574790, 193260),
    ("Braintree", "E07000067", 575760, 223010),
    ("Witham", "E07000067", 582060, 214670),
    ("Brentwood", "E07000068", 559590, 193870),
    ("Canvey Island", "E07000069", 579090, 183390),
    ("Loughton", "E07000072", 542340, 196470),
    ("Maldon", "E07000074", 585030, 207090),
    ("Rayleigh", "E07000075", 580500, 190670),
    ("Harwich", "E07000076", 625880, 232150),
    ("Saffron Walden", "E07000077", 553930, 238440),
)
# Unserved towns get a candidate site each (a library), so the siting models can pick them.
_UNSERVED_TOWNS = (
    ("Leigh-on-Sea", "E06000033", 584280, 185910),
    ("Purfleet", "E06000034", 555500, 178270),
    ("Billericay", "E07000066", 567530, 194900),
    ("Halstead", "E07000067", 581480, 230680),
    ("South Woodham Ferrers", "E07000070", 580940, 197590),
    ("Epping", "E07000072", 545910, 202250),
    ("Waltham Abbey", "E07000072", 538560, 200590),
    ("Burnham-on-Crouch", "E07000074", 594860, 195990),
    ("Jaywick", "E07000076", 614980, 213400),
    ("Walton-on-the-Naze", "E07000076", 625180, 221650),
    ("Great Dunmow", "E07000077", 562770, 222020),
)

# Opening hours (OSM syntax) with their weights.
_PHARMACY_HOURS = (
    ("Mo-Fr 09:00-18:00; Sa 09:00-13:00", 0.45),
    ("Mo-Fr 09:00-17:30", 0.25),
    ("Mo-Sa 09:00-17:30", 0.15),
    ("Mo-Sa 08:00-22:00; Su 10:00-16:00", 0.10),
    ("Mo-Su 07:00-23:00", 0.05),
)
_HUB_HOURS = "Mo-Fr 09:00-17:00; Sa 10:00-13:00"
_SATELLITE_HOURS = ("Mo-Fr 09:30-16:30", "Mo-Th 10:00-16:00", "Tu-Fr 09:00-17:00")
_OUTREACH_HOURS = ("Mo-Fr 18:00-22:00", "Fr-Sa 19:00-23:00", "Mo-Fr 10:00-14:00")
_PHARMACY_CHAINS = ("Sample Pharmacy Group A", "Sample Pharmacy Group B",
                    "Sample Pharmacy Group C", "Sample independent pharmacy")
_SUBSTANCES = (("opiates", 0.45), ("multiple", 0.25), ("cocaine", 0.12),
               ("benzodiazepines", 0.08), ("methadone", 0.06), ("other", 0.04))
_KIND_ORDER = ("treatment_hub", "satellite", "outreach", "pharmacy", "naloxone")

SERVICE_COLUMNS = ["service_id", "name", "kind", "latitude", "longitude", "opening_hours",
                   "capacity", "provider", "postcode", "notes"]
CANDIDATE_COLUMNS = ["candidate_id", "name", "kind", "latitude", "longitude"]
DEATH_COLUMNS = ["record_id", "date", "lsoa_code", "latitude", "longitude", "count",
                 "category", "substance"]


@dataclass(frozen=True)
class SampleReport:
    """What :func:`build_sample` wrote.

    Attributes
    ----------
    out_dir
        The sample directory.
    seed
        The seed it was built from.
    files
        Path relative to ``out_dir`` -> sha256 of its bytes, for every data file
        (``manifest.json`` itself excluded).
    rows
        Path relative to ``out_dir`` -> data rows in that CSV.

    Examples
    --------
    >>> r = SampleReport(Path("s"), 1, {"a.csv": "00"}, {"a.csv": 3})
    >>> r.summary()["rows"]
    {'a.csv': 3}
    """

    out_dir: Path
    seed: int
    files: Mapping[str, str] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI's output."""
        return {"out_dir": str(self.out_dir), "seed": self.seed, "label": LABEL,
                "files": len(self.files), "rows": dict(self.rows)}


# --- helpers ---------------------------------------------------------------------------

def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream]])


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValidationError(f"seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _check_lsoas(lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Validate the LSOA table; return it sorted by LSOA code (a new frame)."""
    if not isinstance(lsoas, gpd.GeoDataFrame):
        raise ValidationError("lsoas must be a GeoDataFrame (Area.lsoas from geointel.area)")
    missing = [c for c in LSOA_COLUMNS if c not in lsoas.columns]
    if missing:
        raise ValidationError(
            f"lsoas has no column {', '.join(missing)}; pass Area.lsoas from "
            "geointel.area.build_area")
    if lsoas.crs is None or lsoas.crs.to_epsg() != 27700:
        raise CRSError(f"lsoas must be in EPSG:27700 (metres), got {lsoas.crs}; "
                       "use lsoas.to_crs(27700)")
    if lsoas.empty:
        raise ValidationError("lsoas is empty; check the area codes")
    if lsoas["lsoa_code"].duplicated().any():
        dup = lsoas.loc[lsoas["lsoa_code"].duplicated(), "lsoa_code"].iloc[0]
        raise ValidationError(f"lsoas has duplicate lsoa_code values (e.g. {dup})")
    pop = pd.to_numeric(lsoas["population"], errors="coerce").astype("Float64")
    dec = pd.to_numeric(lsoas["imd_decile"], errors="coerce").astype("Float64")
    if (pop.dropna() < 0).any():
        raise ValidationError("lsoas.population has negative values; rebuild the area")
    if not dec.dropna().between(1, 10).all():
        raise ValidationError("lsoas.imd_decile must be 1-10 for every LSOA; rebuild the area")
    usable = (pop.notna() & dec.notna()).to_numpy(dtype=bool)
    if not usable.any():
        raise ValidationError("no LSOA in lsoas has both population and imd_decile; rebuild "
                              "the area after `geointel data sync`")
    if not usable.all():
        left_out = lsoas.loc[~usable, "lsoa_code"].astype(str).tolist()
        log.warning("%d LSOA(s) have no population or IMD decile (an unmatched join) and are "
                    "left out of the sample: %s", len(left_out), ", ".join(left_out[:10]))
    out = lsoas.loc[usable].assign(
        lsoa_code=lsoas.loc[usable, "lsoa_code"].astype(str),
        population=pop[usable].round().astype("int64").to_numpy(),
        imd_decile=dec[usable].astype("int64").to_numpy())
    return out.sort_values("lsoa_code", kind="stable").reset_index(drop=True)


def _fmt(values: np.ndarray | pd.Series, decimals: int) -> list[str]:
    return [f"{v:.{decimals}f}" for v in np.asarray(values, dtype=float)]


def _lonlat(easting: np.ndarray, northing: np.ndarray) -> tuple[list[str], list[str]]:
    """WGS84 longitude/latitude text (6 decimals, ~0.1 m) of BNG points."""
    pts = gpd.GeoSeries(gpd.points_from_xy(easting, northing), crs="EPSG:27700")
    wgs = pts.to_crs("EPSG:4326")
    return _fmt(wgs.x.to_numpy(), 6), _fmt(wgs.y.to_numpy(), 6)


def _points_in(geoms: Sequence[Any], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One random point inside each polygon (rejection sampling; seeded)."""
    xs = np.empty(len(geoms))
    ys = np.empty(len(geoms))
    for i, geom in enumerate(geoms):
        minx, miny, maxx, maxy = geom.bounds
        for _ in range(20):
            cx = rng.uniform(minx, maxx, 64)
            cy = rng.uniform(miny, maxy, 64)
            inside = np.flatnonzero(shapely.contains_xy(geom, cx, cy))
            if inside.size:
                xs[i], ys[i] = cx[inside[0]], cy[inside[0]]
                break
        else:  # a sliver polygon: its representative point is inside by construction
            point = geom.representative_point()
            xs[i], ys[i] = point.x, point.y
    return np.round(xs, 1), np.round(ys, 1)


def _town_points(lsoas: gpd.GeoDataFrame,
                 towns: Sequence[tuple[str, str, int, int]]) -> pd.DataFrame:
    """The towns whose district is in ``lsoas``, each moved inside its district if needed.

    A town centre that falls outside every LSOA of its district (e.g. a hand-made or
    re-drawn LSOA table) is moved to the representative point of the nearest such LSOA.
    """
    rows = []
    for name, lad, x, y in towns:
        mine = lsoas[lsoas["lad_code"] == lad]
        if mine.empty:
            continue
        inside = shapely.contains_xy(mine.geometry.to_numpy(), x, y)
        if inside.any():
            lsoa = mine.iloc[int(np.flatnonzero(inside)[0])]
            px, py = float(x), float(y)
        else:
            lsoa = mine.iloc[int(np.argmin(mine.distance(shapely.Point(x, y)).to_numpy()))]
            point = lsoa.geometry.representative_point()
            px, py = round(point.x, 1), round(point.y, 1)
            log.debug("town %s is outside its district's LSOAs; moved into %s", name,
                      lsoa["lsoa_code"])
        rows.append({"town": name, "lad_code": lad, "lad_name": lsoa["lad_name"],
                     "lsoa_code": lsoa["lsoa_code"], "easting": px, "northing": py})
    return pd.DataFrame(rows, columns=["town", "lad_code", "lad_name", "lsoa_code",
                                       "easting", "northing"])


def _default_hubs(lsoas: gpd.GeoDataFrame, named: pd.DataFrame) -> pd.DataFrame:
    """A hub for every district with no listed town at all: at its most central LSOA.

    "Most central" is the LSOA whose population-weighted centroid is nearest the
    population-weighted mean of the district's centroids. Districts of the SET area all
    have listed towns; this serves any other area the sample is built for.
    """
    listed = {t[1] for t in (*_HUB_TOWNS, *_SATELLITE_TOWNS)} | set(named["lad_code"])
    rows = []
    for lad, group in lsoas.groupby("lad_code", sort=True):
        if lad in listed:
            continue
        w = group["population"].to_numpy(dtype=float) + 1e-9
        ex = group["centroid_easting"].to_numpy(dtype=float)
        ny = group["centroid_northing"].to_numpy(dtype=float)
        mx, my = np.average(ex, weights=w), np.average(ny, weights=w)
        i = int(np.argmin((ex - mx) ** 2 + (ny - my) ** 2))
        lsoa = group.iloc[i]
        rows.append({"town": str(lsoa["lad_name"]), "lad_code": lad,
                     "lad_name": lsoa["lad_name"], "lsoa_code": lsoa["lsoa_code"],
                     "easting": round(float(ex[i]), 1), "northing": round(float(ny[i]), 1)})
    return pd.DataFrame(rows, columns=named.columns)


def _weighted_choice(rng: np.random.Generator, options: Sequence[tuple[str, float]],
                     size: int) -> list[str]:
    labels = [o for o, _ in options]
    p = np.array([w for _, w in options], dtype=float)
    return [labels[i] for i in rng.choice(len(labels), size=size, p=p / p.sum())]


def _draw_lsoas(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=size, replace=True, p=p / p.sum())


# --- services --------------------------------------------------------------------------

def make_services(lsoas: gpd.GeoDataFrame, *, seed: int) -> pd.DataFrame:
    """A synthetic services register for the area of ``lsoas`` (services-register schema).

    Treatment hubs at the real town centres (one per district; a district with no listed
    town gets one at its most central LSOA), satellites in some smaller towns, outreach
    in the most deprived LSOAs, about one naloxone-holding pharmacy per 9,000 residents
    (placed in LSOAs in proportion to population; most closed evenings and Sundays) and
    hostel naloxone points in deprived LSOAs.

    Parameters
    ----------
    lsoas
        ``Area.lsoas`` (EPSG:27700) or a frame with the same columns.
    seed
        Seed of every random choice; the same seed gives the same rows.

    Returns
    -------
    pandas.DataFrame
        All text columns (:data:`SERVICE_COLUMNS`) plus ``easting``, ``northing`` (float,
        BNG) and ``lad_code``/``lsoa_code`` of the location; sorted by ``service_id``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> lsoas = gpd.GeoDataFrame({"lsoa_code": ["E01000001"], "lad_code": ["E09000001"],
    ...     "lad_name": ["City"], "population": [20000], "imd_decile": [2],
    ...     "centroid_easting": [532500.0], "centroid_northing": [181500.0]},
    ...     geometry=[box(532000, 181000, 533000, 182000)], crs="EPSG:27700")
    >>> make_services(lsoas, seed=3)["kind"].value_counts().to_dict()
    {'pharmacy': 2, 'treatment_hub': 1, 'outreach': 1, 'naloxone': 1}
    """
    seed = _check_seed(seed)
    lsoas = _check_lsoas(lsoas)
    rng = _rng(seed, "services")
    geoms = lsoas.geometry.to_numpy()
    pop = lsoas["population"].to_numpy(dtype=float)
    deprived = (11 - lsoas["imd_decile"].to_numpy(dtype=float)) ** 3
    parts: list[pd.DataFrame] = []

    named = _town_points(lsoas, _HUB_TOWNS)
    hubs = pd.concat([named, _default_hubs(lsoas, named)], ignore_index=True)
    parts.append(hubs.assign(
        kind="treatment_hub", opening_hours=_HUB_HOURS,
        capacity=[str(int(c)) for c in rng.integers(30, 61, len(hubs)) * 10],
        notes=[f"SYNTHETIC; main treatment and recovery hub for {t}" for t in hubs["town"]]))

    sats = _town_points(lsoas, _SATELLITE_TOWNS)
    parts.append(sats.assign(
        kind="satellite",
        opening_hours=[_SATELLITE_HOURS[i] for i in rng.integers(0, 3, len(sats))],
        capacity=[str(int(c)) for c in rng.integers(4, 13, len(sats)) * 10],
        notes=[f"SYNTHETIC; satellite clinic in {t}" for t in sats["town"]]))

    # Outreach: LSOAs in the most deprived decile present, one per 200,000 residents.
    n_out = max(1, round(pop.sum() / 200_000))
    worst = np.flatnonzero(lsoas["imd_decile"].to_numpy() == lsoas["imd_decile"].min())
    pick = worst[rng.choice(len(worst), size=min(n_out, len(worst)), replace=False,
                            p=(pop[worst] + 1) / (pop[worst] + 1).sum())]
    pick = np.sort(pick)
    parts.append(_at_centroids(lsoas, pick).assign(
        kind="outreach",
        opening_hours=[_OUTREACH_HOURS[i] for i in rng.integers(0, 3, len(pick))],
        capacity=[str(int(c)) for c in rng.integers(2, 7, len(pick)) * 10],
        notes="SYNTHETIC; mobile outreach van stop"))

    n_pharm = max(1, round(pop.sum() / 9_000))
    idx = np.sort(_draw_lsoas(rng, pop + 1, n_pharm))
    ex, ny = _points_in(geoms[idx], rng)
    parts.append(_at_points(lsoas, idx, ex, ny).assign(
        kind="pharmacy",
        opening_hours=_weighted_choice(rng, _PHARMACY_HOURS, n_pharm),
        capacity="",
        provider=[_PHARMACY_CHAINS[i] for i in rng.integers(0, 4, n_pharm)],
        notes="SYNTHETIC; community pharmacy supplying take-home naloxone"))

    n_nal = max(1, round(pop.sum() / 60_000))
    idx = np.sort(_draw_lsoas(rng, (pop + 1) * deprived, n_nal))
    ex, ny = _points_in(geoms[idx], rng)
    parts.append(_at_points(lsoas, idx, ex, ny).assign(
        kind="naloxone", opening_hours="24/7", capacity="",
        provider="Sample Housing Trust",
        notes="SYNTHETIC; naloxone kits held at a hostel"))

    out = pd.concat(parts, ignore_index=True)
    out["provider"] = out["provider"].fillna("").astype(object)
    default_provider = out["lad_name"].map(lambda n: f"Sample Recovery Service ({n})")
    out["provider"] = out["provider"].where(out["provider"] != "", default_provider)
    out["order"] = out["kind"].map({k: i for i, k in enumerate(_KIND_ORDER)})
    out = out.sort_values(["order", "lad_code", "northing", "easting"], kind="stable")
    out = out.reset_index(drop=True)
    out["service_id"] = [f"S{i + 1:04d}" for i in range(len(out))]
    number = out.groupby("kind", sort=False).cumcount() + 1
    out["name"] = [_service_name(k, n, t) for k, n, t in
                   zip(out["kind"], number, out["town"].fillna(""), strict=True)]
    lon, lat = _lonlat(out["easting"].to_numpy(), out["northing"].to_numpy())
    out["longitude"], out["latitude"] = lon, lat
    out["postcode"] = ""
    return out[[*SERVICE_COLUMNS, "easting", "northing", "lad_code", "lsoa_code"]]


def _service_name(kind: str, number: int, town: str) -> str:
    label = {"treatment_hub": "treatment hub", "satellite": "satellite clinic",
             "outreach": "outreach stop", "pharmacy": "pharmacy",
             "naloxone": "hostel naloxone point"}[kind]
    return f"Sample {label} {number}" + (f" ({town})" if town else "")


def _at_centroids(lsoas: gpd.GeoDataFrame, idx: np.ndarray) -> pd.DataFrame:
    return _at_points(lsoas, idx, lsoas["centroid_easting"].to_numpy(dtype=float)[idx].round(1),
                      lsoas["centroid_northing"].to_numpy(dtype=float)[idx].round(1))


def _at_points(lsoas: gpd.GeoDataFrame, idx: np.ndarray, ex: np.ndarray,
               ny: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "lad_code": lsoas["lad_code"].to_numpy()[idx],
        "lad_name": lsoas["lad_name"].to_numpy()[idx],
        "lsoa_code": lsoas["lsoa_code"].to_numpy()[idx],
        "easting": ex, "northing": ny})


# --- candidate sites -------------------------------------------------------------------

def make_candidates(lsoas: gpd.GeoDataFrame, *, seed: int) -> pd.DataFrame:
    """Synthetic candidate sites for new clinics: libraries, GP surgeries, community venues.

    A library in every listed town that has no service yet, then about one GP surgery per
    25,000 residents (LSOAs drawn in proportion to population) and one community venue
    per 40,000 residents (LSOAs drawn in proportion to area, so rural places get options).

    Parameters
    ----------
    lsoas
        ``Area.lsoas`` (EPSG:27700) or a frame with the same columns.
    seed
        Seed of every random choice.

    Returns
    -------
    pandas.DataFrame
        :data:`CANDIDATE_COLUMNS` as text plus ``easting``/``northing``/``lad_code``,
        sorted by ``candidate_id``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> lsoas = gpd.GeoDataFrame({"lsoa_code": ["E01000001"], "lad_code": ["E09000001"],
    ...     "lad_name": ["City"], "population": [50000], "imd_decile": [2],
    ...     "centroid_easting": [532500.0], "centroid_northing": [181500.0]},
    ...     geometry=[box(532000, 181000, 533000, 182000)], crs="EPSG:27700")
    >>> make_candidates(lsoas, seed=3)["kind"].tolist()
    ['gp_surgery', 'gp_surgery', 'community_venue']
    """
    seed = _check_seed(seed)
    lsoas = _check_lsoas(lsoas)
    rng = _rng(seed, "candidates")
    geoms = lsoas.geometry.to_numpy()
    pop = lsoas["population"].to_numpy(dtype=float)
    parts = [_town_points(lsoas, _UNSERVED_TOWNS).assign(kind="library")]
    n_gp = max(1, round(pop.sum() / 25_000))
    idx = np.sort(_draw_lsoas(rng, pop + 1, n_gp))
    ex, ny = _points_in(geoms[idx], rng)
    parts.append(_at_points(lsoas, idx, ex, ny).assign(kind="gp_surgery"))
    n_cv = max(1, round(pop.sum() / 40_000))
    idx = np.sort(_draw_lsoas(rng, lsoas.geometry.area.to_numpy() + 1, n_cv))
    ex, ny = _points_in(geoms[idx], rng)
    parts.append(_at_points(lsoas, idx, ex, ny).assign(kind="community_venue"))
    out = pd.concat(parts, ignore_index=True)
    order = {"library": 0, "gp_surgery": 1, "community_venue": 2}
    out = out.assign(order=out["kind"].map(order)).sort_values(
        ["order", "lad_code", "northing", "easting"], kind="stable").reset_index(drop=True)
    out["candidate_id"] = [f"C{i + 1:03d}" for i in range(len(out))]
    number = out.groupby("kind", sort=False).cumcount() + 1
    label = {"library": "library", "gp_surgery": "GP surgery",
             "community_venue": "community venue"}
    towns = out["town"].fillna("") if "town" in out else pd.Series("", index=out.index)
    out["name"] = [f"Sample {label[k]} {n}" + (f" ({t})" if t else "")
                   for k, n, t in zip(out["kind"], number, towns, strict=True)]
    lon, lat = _lonlat(out["easting"].to_numpy(), out["northing"].to_numpy())
    out["longitude"], out["latitude"] = lon, lat
    return out[[*CANDIDATE_COLUMNS, "easting", "northing", "lad_code"]]


# --- deaths register -------------------------------------------------------------------

def relative_risk(imd_decile: np.ndarray | pd.Series) -> np.ndarray:
    """Relative risk of a drug-poisoning death by IMD decile (decile 10 = 1).

    Examples
    --------
    >>> relative_risk(np.array([10, 9, 1])).round(3).tolist()
    [1.0, 1.22, 5.987]
    """
    d = np.asarray(imd_decile, dtype=float)
    return np.power(RISK_PER_DECILE, 10.0 - d)


def make_deaths(lsoas: gpd.GeoDataFrame, *, seed: int, start: str = DEATHS_START,
                end: str = DEATHS_END) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic deaths register and its ground truth.

    Each LSOA's yearly rate is ``DEATH_RATE_PER_100K`` x its :func:`relative_risk` x
    ``ELEVATED_MULTIPLIER`` if elevated, scaled so that the area's overall rate is
    ``DEATH_RATE_PER_100K``. About 2% of LSOAs, drawn among deciles 1-3 in proportion
    to population, are elevated. Deaths per LSOA ~ Poisson(rate x population x years),
    each on a uniformly drawn day and registered by LSOA of residence (no coordinates).
    Non-fatal overdoses (``NON_FATAL_PER_DEATH`` per expected death) are reported per
    LSOA and month (date ``yyyy-mm``) with a count and the LSOA's population-weighted
    centroid as coordinates.

    Parameters
    ----------
    lsoas
        ``Area.lsoas`` (EPSG:27700) or a frame with the same columns.
    seed
        Seed of every random draw.
    start, end
        First and last day of the register (ISO dates).

    Returns
    -------
    records, truth
        ``records``: :data:`DEATH_COLUMNS` as text, sorted by date, category and LSOA.
        ``truth``: one row per LSOA with ``relative_risk``, ``elevated``,
        ``rate_per_100k``, ``expected_deaths``, ``expected_non_fatal`` and the drawn
        ``deaths`` and ``non_fatal``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> lsoas = gpd.GeoDataFrame({"lsoa_code": ["E01000001"], "lad_code": ["E09000001"],
    ...     "lad_name": ["City"], "population": [1000], "imd_decile": [1],
    ...     "centroid_easting": [532500.0], "centroid_northing": [181500.0]},
    ...     geometry=[box(532000, 181000, 533000, 182000)], crs="EPSG:27700")
    >>> records, truth = make_deaths(lsoas, seed=1)
    >>> round(float(truth["rate_per_100k"].iloc[0]), 1)
    5.5
    """
    seed = _check_seed(seed)
    lsoas = _check_lsoas(lsoas)
    try:
        first, last = pd.Timestamp(start), pd.Timestamp(end)
    except ValueError:
        raise ValidationError(f"start/end must be ISO dates, got {start!r}/{end!r}") from None
    if last < first:
        raise ValidationError(f"end ({end}) is before start ({start})")
    rng = _rng(seed, "deaths")
    n = len(lsoas)
    pop = lsoas["population"].to_numpy(dtype=float)
    dec = lsoas["imd_decile"].to_numpy()
    days = (last - first).days + 1
    years = days / 365.25

    eligible = np.flatnonzero(dec <= 3)
    n_elev = min(len(eligible), round(ELEVATED_SHARE * n)) if eligible.size else 0
    elevated = np.zeros(n, dtype=bool)
    if n_elev:
        w = pop[eligible] + 1
        elevated[rng.choice(eligible, size=n_elev, replace=False, p=w / w.sum())] = True
    rr = relative_risk(dec) * np.where(elevated, ELEVATED_MULTIPLIER, 1.0)
    scale = pop.sum() / (pop * rr).sum() if (pop * rr).sum() > 0 else 1.0
    rate = DEATH_RATE_PER_100K * rr * scale
    expected = rate / 1e5 * pop * years
    deaths = rng.poisson(expected)

    death_lsoa = np.repeat(np.arange(n), deaths)
    death_day = rng.integers(0, days, death_lsoa.size)
    substance = _weighted_choice(rng, _SUBSTANCES, death_lsoa.size)
    codes = lsoas["lsoa_code"].to_numpy()
    dated = pd.DataFrame({
        "date": (first + pd.to_timedelta(death_day, unit="D")).strftime("%Y-%m-%d"),
        "lsoa_code": codes[death_lsoa], "latitude": "", "longitude": "", "count": "1",
        "category": "death", "substance": substance})

    months = pd.period_range(first, last, freq="M")
    month_days = np.array([min(p.end_time, last).day - max(p.start_time, first).day + 1
                           for p in months], dtype=float)
    expected_nf = expected * NON_FATAL_PER_DEATH
    nf = rng.poisson(np.outer(expected_nf / days, month_days))  # LSOA x month
    li, mi = np.nonzero(nf)
    month_labels = [p.strftime("%Y-%m") for p in months]
    lon, lat = _lonlat(lsoas["centroid_easting"].to_numpy(dtype=float)[li],
                       lsoas["centroid_northing"].to_numpy(dtype=float)[li])
    non_fatal = pd.DataFrame({
        "date": [month_labels[int(m)] for m in mi], "lsoa_code": codes[li],
        "latitude": lat, "longitude": lon,
        "count": [str(int(c)) for c in nf[li, mi]], "category": "non_fatal_overdose",
        "substance": _weighted_choice(rng, _SUBSTANCES, li.size)})

    records = pd.concat([dated, non_fatal], ignore_index=True).sort_values(
        ["date", "category", "lsoa_code", "substance"], kind="stable").reset_index(drop=True)
    records["record_id"] = [f"R{i + 1:05d}" for i in range(len(records))]
    truth = pd.DataFrame({
        "lsoa_code": codes, "lad_code": lsoas["lad_code"].to_numpy(),
        "population": pop.astype("int64"), "imd_decile": dec,
        "relative_risk": rr, "elevated": elevated, "rate_per_100k": rate,
        "expected_deaths": expected, "expected_non_fatal": expected_nf,
        "deaths": deaths, "non_fatal": nf.sum(axis=1)})
    return records[DEATH_COLUMNS], truth


# --- writing ---------------------------------------------------------------------------

def _csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV bytes with ``\\n`` line ends and floats at a fixed 6 decimals."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n", float_format="%.6f")
    return buf.getvalue().encode("utf-8")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame that ``to_csv`` can write: geometry as WKT (1 decimal), index dropped."""
    out = pd.DataFrame(frame).reset_index(drop=True)
    for name in out.columns:
        if isinstance(out[name].dtype, gpd.array.GeometryDtype):
            out[name] = shapely.to_wkt(out[name].to_numpy(), rounding_precision=1)
    return out


def _write(out_dir: Path, name: str, data: bytes, files: dict[str, str]) -> None:
    path = out_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    files[name] = hashlib.sha256(data).hexdigest()


def build_sample(lsoas: gpd.GeoDataFrame, *, seed: int, out_dir: str | Path,
                 progress: Progress | None = None) -> SampleReport:
    """Write the whole synthetic sample for the area of ``lsoas`` into ``out_dir``.

    Files: ``services.csv``, ``candidates.csv``, ``deaths.csv``,
    ``truth/deaths_rate.csv`` (made here), ``contacts.csv``, ``intel.csv``,
    ``disruptions.csv``, ``cells.csv``, ``truth/handsets.csv``, ``truth/lines.csv``
    (from :func:`geointel.network.simulate.simulate_county_lines`) and ``manifest.json``.
    Existing files of those names are replaced; other files (e.g. ``README.md``) are left.

    Parameters
    ----------
    lsoas
        ``Area.lsoas`` from :func:`geointel.area.build_area` (EPSG:27700).
    seed
        Seed of every random step: the same ``lsoas`` and seed give identical bytes.
    out_dir
        Where to write (usually ``settings.samples_dir``); created if missing.
    progress
        Optional ``progress(done, total, message)`` callback.

    Returns
    -------
    SampleReport
        The files written with their sha256 and row counts.

    Examples
    --------
    >>> import tempfile
    >>> from shapely.geometry import box
    >>> lsoas = gpd.GeoDataFrame({"lsoa_code": ["E01000001"], "lad_code": ["E09000001"],
    ...     "lad_name": ["City"], "population": [8000], "imd_decile": [2],
    ...     "centroid_easting": [532500.0], "centroid_northing": [181500.0]},
    ...     geometry=[box(532000, 181000, 533000, 182000)], crs="EPSG:27700")
    >>> r = build_sample(lsoas, seed=5, out_dir=tempfile.mkdtemp())
    >>> sorted(r.files)[:3]
    ['candidates.csv', 'cells.csv', 'contacts.csv']
    """
    from geointel.network.simulate import simulate_county_lines

    seed = _check_seed(seed)
    lsoas = _check_lsoas(lsoas)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataFileError(out, "is a file, not a directory",
                            fix="pass a directory for the sample (e.g. data/samples)")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    rows: dict[str, int] = {}
    total = 5

    report(progress, 0, total, "services")
    services = make_services(lsoas, seed=seed)
    rows["services.csv"] = len(services)
    _write(out, "services.csv", _csv_bytes(services[SERVICE_COLUMNS]), files)

    report(progress, 1, total, "candidate sites")
    candidates = make_candidates(lsoas, seed=seed)
    rows["candidates.csv"] = len(candidates)
    _write(out, "candidates.csv", _csv_bytes(candidates[CANDIDATE_COLUMNS]), files)

    report(progress, 2, total, "deaths register")
    records, truth = make_deaths(lsoas, seed=seed)
    rows["deaths.csv"] = len(records)
    rows["truth/deaths_rate.csv"] = len(truth)
    _write(out, "deaths.csv", _csv_bytes(records), files)
    _write(out, "truth/deaths_rate.csv", _csv_bytes(truth), files)

    report(progress, 3, total, "county lines contact records")
    lines = simulate_county_lines(seed=seed)
    for name, frame in (("contacts.csv", lines.contacts), ("intel.csv", lines.intel),
                        ("disruptions.csv", lines.disruptions), ("cells.csv", lines.cells),
                        ("truth/handsets.csv", lines.truth_handsets),
                        ("truth/lines.csv", lines.truth_lines)):
        rows[name] = len(frame)
        _write(out, name, _csv_bytes(_plain(frame)), files)

    report(progress, 4, total, "manifest")
    manifest = {
        "label": LABEL,
        "generator": f"geointel.samples {GENERATOR_VERSION} (geointel {__version__})",
        "seed": seed,
        "lad_codes": sorted(str(c) for c in lsoas["lad_code"].unique()),
        "lsoas": len(lsoas),
        "population": int(lsoas["population"].sum()),
        "deaths_period": [DEATHS_START, DEATHS_END],
        "files": {name: {"sha256": files[name], "rows": rows[name]} for name in sorted(files)},
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
    report(progress, total, total, "done")
    log.info("sample written to %s (seed %d, %d files)", out, seed, len(files))
    return SampleReport(out_dir=out, seed=seed, files=dict(sorted(files.items())),
                        rows=dict(sorted(rows.items())))
