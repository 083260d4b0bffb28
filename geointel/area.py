"""The Area: one row per LSOA of the named authorities, with everything analyses join to.

:func:`build_area` reads the synced open data (see :mod:`geointel.opendata`) and joins,
onto the LSOA 2011 polygons of the named local authorities, the Census 2011 population,
IMD 2019, the population-weighted centroid and the best-fit electoral ward. Joins never
drop anything silently: LSOAs a join could not match are listed in ``Area.unmatched`` and
logged at WARNING with how many and which vintage was expected.

Wards are assigned by the ONS best-fit method: the ward whose polygon contains the LSOA's
population-weighted centroid. Generalised boundaries can leave a centroid a few metres
outside every ward (on the coast, say); such a centroid goes to the nearest ward within
:data:`WARD_TOLERANCE_M` metres, and one further away is listed as unmatched.

Examples
--------
>>> from geointel.settings import Settings
>>> from geointel.opendata import sync
>>> import tempfile
>>> m = Settings().resolved_mirror()
>>> d = Path(tempfile.mkdtemp())
>>> _ = sync(["E06000033"], data_dir=d, mirror=m, months=["2018-10"]) if m else None
>>> area = build_area(["E06000033"], data_dir=d) if m else None
>>> area is None or (len(area.lsoas), int(area.lsoas["population"].sum()))
(107, 173658)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geointel._progress import Progress, report
from geointel.errors import MissingDataError
from geointel.io._geo import BNG
from geointel.io._table import ReadResult, concat_results
from geointel.opendata import AUTHORITIES, LAYOUT, check_areas
from geointel.settings import Settings

log = logging.getLogger(__name__)

DOMAINS = ("income", "employment", "education", "health", "crime", "housing", "environment")
COLUMNS = [
    "lsoa_code", "lsoa_name", "msoa_code", "msoa_name", "lad_code", "lad_name", "utla_code",
    "ward_code", "ward_name", "population", "households", "imd_score", "imd_rank",
    "imd_decile", *(f"{d}_{s}" for d in DOMAINS for s in ("rank", "decile")),
    "centroid_easting", "centroid_northing", "area_km2", "geometry",
]
#: How far (metres) a centroid may lie outside every generalised ward polygon and still be
#: given the nearest ward.
WARD_TOLERANCE_M = 100.0
#: LSOA 2011 codes run up to E01033768 (England) and W01001958 (Wales); higher numbers are
#: LSOA 2021 codes.
_LAST_2011 = {"E01": 33768, "W01": 1958}
_LSOA = re.compile(r"^([EW]01)(\d{6})$")


def looks_2021(code: str) -> bool:
    """True for an LSOA code that exists only in the 2021 vintage (numbered after 2011's).

    Examples
    --------
    >>> looks_2021("E01015814"), looks_2021("E01035001")
    (False, True)
    """
    match = _LSOA.match(code)
    if match is None:
        return False
    return int(match.group(2)) > _LAST_2011[match.group(1)]


@dataclass(frozen=True)
class Area:
    """The LSOAs of some local authorities, with population, IMD, centroid and ward.

    Attributes
    ----------
    lsoas
        GeoDataFrame in EPSG:27700, one row per LSOA, columns :data:`COLUMNS`.
    codes
        The authority codes the area was built for.
    unmatched
        Per join (``population``, ``imd``, ``centroid``, ``ward``, and ``boundaries`` for
        population rows of these authorities with no LSOA polygon): the codes that did
        not match.

    Examples
    --------
    >>> import shapely
    >>> row = {c: [None] for c in COLUMNS if c != "geometry"}
    >>> row.update(lsoa_code=["E01015814"], lad_code=["E06000033"], utla_code=["E06000033"],
    ...            population=[1500], centroid_easting=[583989.0], centroid_northing=[187186.0])
    >>> frame = gpd.GeoDataFrame(row, geometry=[shapely.box(0, 0, 1, 1)], crs=BNG)
    >>> area = Area(frame, ("E06000033",))
    >>> area.summary()["population"], area.centroids().geometry.x.tolist()
    (1500, [583989.0])
    """

    lsoas: gpd.GeoDataFrame
    codes: tuple[str, ...]
    unmatched: Mapping[str, list[str]] = field(default_factory=dict)

    def centroids(self) -> gpd.GeoDataFrame:
        """Population-weighted centroids as points (EPSG:27700); LSOAs without one left out.

        Columns: ``lsoa_code, lad_code, population, geometry``.
        """
        has = self.lsoas["centroid_easting"].notna() & self.lsoas["centroid_northing"].notna()
        rows = self.lsoas.loc[has]
        points = gpd.points_from_xy(rows["centroid_easting"].astype(float),
                                    rows["centroid_northing"].astype(float))
        frame = pd.DataFrame(rows[["lsoa_code", "lad_code", "population"]]).reset_index(
            drop=True)
        return gpd.GeoDataFrame(frame, geometry=points, crs=BNG)

    def by_authority(self) -> pd.DataFrame:
        """Per authority code: ``code, name, lsoas, population``."""
        rows = []
        for code in self.codes:
            part = self.lsoas.loc[_selects(self.lsoas, code)]
            rows.append({"code": code, "name": AUTHORITIES[code].name if code in AUTHORITIES
                         else code, "lsoas": len(part),
                         "population": int(part["population"].fillna(0).sum())})
        return pd.DataFrame(rows, columns=["code", "name", "lsoas", "population"])

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI: LSOAs and population in all and per authority, unmatched."""
        return {
            "codes": list(self.codes),
            "lsoas": len(self.lsoas),
            "population": int(self.lsoas["population"].fillna(0).sum()),
            "by_authority": {str(r["code"]): {"name": str(r["name"]), "lsoas": int(r["lsoas"]),
                                              "population": int(r["population"])}
                             for r in self.by_authority().to_dict("records")},
            "unmatched": {k: len(v) for k, v in self.unmatched.items()},
        }


def _selects(frame: pd.DataFrame, code: str) -> pd.Series:
    """Rows of ``frame`` belonging to authority ``code`` (county by UTLA, others by LAD)."""
    column = "utla_code" if code.startswith("E10") else "lad_code"
    return frame[column].eq(code)


def _paths(codes: Sequence[str], data_dir: Path) -> dict[str, list[Path]]:
    file_codes = list(dict.fromkeys(AUTHORITIES[c].file_code for c in codes))
    out = {kind: [data_dir / LAYOUT[kind].format(code=f) for f in file_codes]
           for kind in ("lsoa11", "ward")}
    out.update({kind: [data_dir / LAYOUT[kind]] for kind in ("population", "imd", "centroids")})
    missing = [str(p) for ps in out.values() for p in ps if not p.is_file()]
    if missing:
        areas = " ".join(f"--area {c}" for c in codes)
        raise MissingDataError(
            f"the data directory {data_dir} lacks {', '.join(missing)}. Fix: run "
            f"`geointel data sync {areas} --data-dir {data_dir}` (with GEOINTEL_MIRROR or "
            "--mirror pointing at a copy of the open data if offline)")
    return out


def _read_all(paths: Sequence[Path], reader: Any) -> ReadResult:
    results = [reader(p) for p in paths]
    for result in results:
        if result.rows_rejected:
            log.warning("%s: %d rows rejected (%s)", ", ".join(result.sources),
                        result.rows_rejected,
                        "; ".join(f"{k}: {v}" for k, v in
                                  result.rejects["reason"].value_counts().items()))
    return concat_results(results)


def _warn(join: str, missing: list[str], *, what: str, other: pd.Series) -> None:
    """Log unmatched codes with the vintage expected and what the other side looks like."""
    if not missing:
        return
    newer = int(other.astype(str).map(looks_2021).sum())
    note = (f"; {newer} codes in the {what} look like 2021 codes but the boundaries are 2011"
            if newer else "")
    shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
    log.warning("%s join: %d LSOA code(s) of the area have no row in the %s (expected LSOA "
                "2011 codes): %s%s", join, len(missing), what, shown, note)


def _join(left: pd.DataFrame, right: pd.DataFrame, columns: list[str], *, join: str,
          what: str, unmatched: dict[str, list[str]]) -> pd.DataFrame:
    right = right.drop_duplicates("lsoa_code")
    out = left.merge(right[["lsoa_code", *columns]], on="lsoa_code", how="left",
                     validate="one_to_one", indicator=True)
    missing = sorted(out.loc[out["_merge"] == "left_only", "lsoa_code"].astype(str))
    unmatched[join] = missing
    _warn(join, missing, what=what, other=right["lsoa_code"])
    return out.drop(columns="_merge")


def _wards(frame: pd.DataFrame, wards: gpd.GeoDataFrame, unmatched: dict[str, list[str]]
           ) -> pd.DataFrame:
    """Best-fit ward of each LSOA by population-weighted centroid (ONS best-fit method)."""
    has = frame["centroid_easting"].notna() & frame["centroid_northing"].notna()
    points = gpd.GeoDataFrame(
        {"lsoa_code": frame.loc[has, "lsoa_code"].to_numpy()},
        geometry=gpd.points_from_xy(frame.loc[has, "centroid_easting"].astype(float),
                                    frame.loc[has, "centroid_northing"].astype(float)),
        crs=BNG)
    polys = wards[["code", "name", "geometry"]].sort_values("code").reset_index(drop=True)
    inside = gpd.sjoin(points, polys, predicate="within", how="inner")
    inside = inside.sort_values(["lsoa_code", "code"]).drop_duplicates("lsoa_code")
    outside = points.loc[~points["lsoa_code"].isin(inside["lsoa_code"])]
    near = gpd.sjoin_nearest(outside, polys, how="inner", max_distance=WARD_TOLERANCE_M,
                             distance_col="distance_m")
    near = near.sort_values(["lsoa_code", "distance_m", "code"]).drop_duplicates("lsoa_code")
    if len(near):
        log.info("ward join: %d centroid(s) lie just outside the generalised ward polygons "
                 "and were given the nearest ward (at most %.0f m away)", len(near),
                 float(near["distance_m"].max()))
    best = pd.concat([pd.DataFrame(inside[["lsoa_code", "code", "name"]]),
                      pd.DataFrame(near[["lsoa_code", "code", "name"]])], ignore_index=True)
    best = best.rename(columns={"code": "ward_code", "name": "ward_name"})
    out = frame.merge(best, on="lsoa_code", how="left", validate="one_to_one")
    missing = sorted(out.loc[out["ward_code"].isna(), "lsoa_code"].astype(str))
    unmatched["ward"] = missing
    if missing:
        log.warning("ward join: %d LSOA(s) have no ward: no population-weighted centroid, or "
                    "centroid more than %.0f m from every ward polygon: %s", len(missing),
                    WARD_TOLERANCE_M, ", ".join(missing[:10]))
    return out


def build_area(codes: Sequence[str], *, data_dir: Path,
               progress: Progress | None = None) -> Area:
    """Build the :class:`Area` of the named local authorities from synced open data.

    Parameters
    ----------
    codes
        Local authority codes (unitary E06..., county E10000012, or Essex district
        E07...; a district selects its LSOAs from its county's boundary file).
    data_dir
        A directory filled by :func:`geointel.opendata.sync`.
    progress
        ``progress(done, total, message)`` callback.

    Returns
    -------
    Area
        One row per LSOA 2011 of the authorities, columns :data:`COLUMNS`.

    Raises
    ------
    ValidationError
        An unknown authority code.
    MissingDataError
        ``data_dir`` lacks a file the area needs (run ``geointel data sync --area ...``).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     build_area(["E06000033"], data_dir=Path(tempfile.mkdtemp()))
    ... except MissingDataError as err:
    ...     print("geointel data sync --area E06000033" in str(err))
    True
    """
    from geointel.io.boundaries import read_boundaries
    from geointel.io.imd import read_imd
    from geointel.io.population import read_centroids, read_population

    codes = check_areas(codes)
    data_dir = Path(data_dir)
    paths = _paths(codes, data_dir)
    total = 6
    unmatched: dict[str, list[str]] = {}

    report(progress, 0, total, "reading LSOA boundaries")
    lsoa = _read_all(paths["lsoa11"], read_boundaries).data
    file_of = {str(p): p.stem for p in paths["lsoa11"]}
    frame = pd.DataFrame({
        "lsoa_code": lsoa["code"].astype(str),
        "lsoa_name": lsoa["name"].astype(str),
        "boundary_lad": lsoa["lad_code"].astype(str),
        "utla_code": lsoa["utla_code"].astype(str).where(
            lsoa["utla_code"].astype(str) != "", lsoa["_file"].astype(str).map(file_of)),
        "geometry": lsoa.geometry.to_numpy(),
    }).drop_duplicates("lsoa_code")

    report(progress, 1, total, "joining Census 2011 population")
    pop = _read_all(paths["population"], read_population).data
    frame = _join(frame, pop.rename(columns={"lsoa_name": "pop_lsoa_name",
                                             "lad_code": "pop_lad"}),
                  ["pop_lsoa_name", "msoa_code", "msoa_name", "pop_lad", "lad_name",
                   "population", "households"],
                  join="population", what="Census 2011 population file", unmatched=unmatched)
    frame["lad_code"] = frame["boundary_lad"].where(frame["boundary_lad"] != "",
                                                    frame["pop_lad"])
    frame["lsoa_name"] = frame["lsoa_name"].where(frame["lsoa_name"] != "",
                                                  frame["pop_lsoa_name"])
    known = frame["lad_code"].map(lambda c: AUTHORITIES[c].name if c in AUTHORITIES else None)
    frame["lad_name"] = known.where(known.notna(), frame["lad_name"])
    keep = np.zeros(len(frame), dtype=bool)
    for code in codes:
        keep |= _selects(frame, code).to_numpy()
    frame = frame.loc[keep].reset_index(drop=True)
    lads = set(frame["lad_code"].dropna())
    extra = pop.loc[pop["lad_code"].isin(lads) & ~pop["lsoa_code"].isin(frame["lsoa_code"]),
                    "lsoa_code"]
    unmatched["boundaries"] = sorted(extra.astype(str))
    if len(extra):
        log.warning("population join: %d LSOA code(s) of these authorities in the Census 2011 "
                    "population file have no LSOA 2011 polygon (%d look like 2021 codes but "
                    "the boundaries are 2011): %s", len(extra),
                    int(extra.astype(str).map(looks_2021).sum()), ", ".join(extra.head(10)))

    report(progress, 2, total, "joining IMD 2019")
    imd = _read_all(paths["imd"], read_imd).data
    imd_columns = ["imd_score", "imd_rank", "imd_decile",
                   *(f"{d}_{s}" for d in DOMAINS for s in ("rank", "decile"))]
    frame = _join(frame, imd, imd_columns, join="imd", what="IMD 2019 file",
                  unmatched=unmatched)

    report(progress, 3, total, "joining population-weighted centroids")
    cen = _read_all(paths["centroids"], read_centroids).data
    cen = pd.DataFrame({"lsoa_code": cen["lsoa_code"].astype(str),
                        "centroid_easting": cen.geometry.x.to_numpy(),
                        "centroid_northing": cen.geometry.y.to_numpy()})
    frame = _join(frame, cen, ["centroid_easting", "centroid_northing"], join="centroid",
                  what="population-weighted centroids file", unmatched=unmatched)

    report(progress, 4, total, "best-fit wards")
    wards = _read_all(paths["ward"], read_boundaries).data
    frame = _wards(frame, wards, unmatched)

    report(progress, 5, total, "finishing")
    for column in ("population", "households"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    geo = gpd.GeoDataFrame(frame, geometry="geometry", crs=BNG)
    geo["area_km2"] = geo.geometry.area / 1e6
    geo = gpd.GeoDataFrame(geo[COLUMNS].sort_values("lsoa_code").reset_index(drop=True),
                           geometry="geometry", crs=BNG)
    report(progress, total, total, "done")
    log.info("area %s: %d LSOAs, population %d", ", ".join(codes), len(geo),
             int(geo["population"].fillna(0).sum()))
    return Area(lsoas=geo, codes=codes, unmatched=unmatched)


def area_from_settings(settings: Settings, codes: Sequence[str] | None = None,
                       progress: Progress | None = None) -> Area:
    """Build the Area for ``codes`` (default ``settings.areas``) from ``settings.data_dir``.

    Examples
    --------
    >>> import tempfile
    >>> s = Settings(data_dir=Path(tempfile.mkdtemp()))
    >>> try:
    ...     area_from_settings(s)
    ... except MissingDataError as err:
    ...     print("sync --area E06000033 --area E06000034 --area E10000012" in str(err))
    True
    """
    return build_area(codes or settings.areas, data_dir=settings.data_dir, progress=progress)
