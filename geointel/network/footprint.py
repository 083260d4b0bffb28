"""Footprints: where a line sells and where it is run from, mapped to LSOAs and authorities.

Selling points are the cells of the line's customers when they contact it and of its runners;
run-from points are the cells of the line handsets and their holder. Cells are joined to an
LSOA GeoDataFrame (points in polygons, EPSG:27700), e.g. the output of
:func:`geointel.io.boundaries.read_boundaries` (columns ``code`` and ``lad_code``). Each line
gets an exporter -> importer link: from the centre of its run-from cells to the centre of its
selling cells, labelled with the local authorities that hold most of each.

Examples
--------
>>> import geopandas as gpd, shapely
>>> lsoas = gpd.GeoDataFrame({"code": ["E01000001"], "lad_code": ["E06000033"]},
...     geometry=[shapely.box(580000, 180000, 590000, 190000)], crs="EPSG:27700")
>>> pts = pd.DataFrame({"line_id": ["LINE-a"], "side": ["sell"], "cell": ["c1"],
...                     "lat": [51.54], "lon": [0.71], "records": [5], "handsets": [2]})
>>> f = footprint_areas(pts, lsoas)
>>> f[["line_id", "side", "lsoa", "la", "records"]].values.tolist()
[['LINE-a', 'sell', 'E01000001', 'E06000033', 5]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from geointel.errors import CRSError, ValidationError
from geointel.io._geo import BNG, WGS84, points_bng
from geointel.network._duck import fetch

OUTSIDE = "outside the supplied areas"


def footprint_points(con: Any, chains: pd.DataFrame, customers: pd.DataFrame,
                     runners: pd.DataFrame, holders: Mapping[str, str]) -> pd.DataFrame:
    """Records per line, side (``sell``/``run``) and cell: ``records``, ``handsets``."""
    line_of = dict(zip(chains["handset"], chains["line_id"], strict=True))
    roles = []
    for h, c in zip(customers["h"], customers["c"], strict=True):
        roles.append((line_of[h], "sell", c, h))  # the customer's own records to the line
    for h, c in zip(runners["h"], runners["c"], strict=True):
        roles.append((line_of[h], "sell", c, ""))  # all the runner's records
    for h, line_id in line_of.items():
        roles.append((line_id, "run", h, ""))
        if line_id in holders:
            roles.append((line_id, "run", holders[line_id], ""))
    table = pd.DataFrame(roles, columns=["line_id", "side", "handset", "to_handset"])
    table = table.drop_duplicates()
    columns = ["line_id", "side", "cell", "lat", "lon", "records", "handsets"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    con.register("fp_roles", table)
    out = fetch(con, """
        SELECT r.line_id, r.side, rec.cell, avg(rec.lat) AS lat, avg(rec.lon) AS lon,
               count(*) AS records, count(DISTINCT rec.a) AS handsets
        FROM fp_roles r JOIN rec ON rec.a = r.handset
             AND (r.to_handset = '' OR rec.b = r.to_handset)
        WHERE rec.lat IS NOT NULL AND rec.lon IS NOT NULL
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")
    con.unregister("fp_roles")
    return out[columns]


def _columns(lsoas: gpd.GeoDataFrame, code: str | None, la: str | None) -> tuple[str, str | None]:
    code = code or next((c for c in ("code", "LSOA11CD", "LSOA21CD", "lsoa11cd")
                         if c in lsoas.columns), None)
    if code is None or code not in lsoas.columns:
        raise ValidationError("footprints: the LSOA GeoDataFrame has no code column; pass "
                              "code_column=... (expected 'code' from read_boundaries)")
    la = la or next((c for c in ("lad_code", "LADCD_ACTIVE", "LAD11CD", "LAD21CD")
                     if c in lsoas.columns), None)
    return code, la


def footprint_areas(points: pd.DataFrame, lsoas: gpd.GeoDataFrame, *,
                    code_column: str | None = None,
                    la_column: str | None = None) -> pd.DataFrame:
    """Points per line joined to LSOAs: ``line_id``, ``side``, ``lsoa``, ``la``, ``records``,
    ``handsets``. Points outside every polygon get ``lsoa``/``la`` = :data:`OUTSIDE`."""
    if lsoas.crs is None:
        raise CRSError("footprints: the LSOA GeoDataFrame has no CRS; set it (EPSG:27700)")
    code, la = _columns(lsoas, code_column, la_column)
    polys = lsoas.to_crs(BNG) if lsoas.crs.to_epsg() != 27700 else lsoas
    polys = polys[[code, *([la] if la else []), polys.geometry.name]]
    columns = ["line_id", "side", "lsoa", "la", "records", "handsets"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    pts = points_bng(points, "lon", "lat", crs=WGS84)
    joined = gpd.sjoin(pts, polys, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = pd.DataFrame({
        "line_id": joined["line_id"].to_numpy(), "side": joined["side"].to_numpy(),
        "lsoa": joined[code].fillna(OUTSIDE).astype(str).to_numpy(),
        "la": (joined[la].fillna(OUTSIDE).astype(str).to_numpy() if la
               else joined[code].notna().map({True: "", False: OUTSIDE}).to_numpy()),
        "records": joined["records"].astype("int64").to_numpy(),
        "handsets": joined["handsets"].astype("int64").to_numpy()})
    return (out.groupby(["line_id", "side", "lsoa", "la"], as_index=False)
            [["records", "handsets"]].sum().sort_values(["line_id", "side", "lsoa"])
            .reset_index(drop=True))


def line_links(points: pd.DataFrame, areas: pd.DataFrame | None,
               line_ids: Sequence[str]) -> gpd.GeoDataFrame:
    """Exporter -> importer link per line (LineString, EPSG:27700) with the authorities."""
    rows = []
    pts = points_bng(points, "lon", "lat", crs=WGS84) if len(points) else None
    for line_id in line_ids:
        ends: dict[str, tuple[float, float] | None] = {}
        for side in ("run", "sell"):
            sel = (pts[(pts["line_id"] == line_id) & (pts["side"] == side)]
                   if pts is not None else None)
            if sel is None or sel.empty:
                ends[side] = None
                continue
            w = sel["records"].astype(float)
            ends[side] = ((sel["easting"] * w).sum() / w.sum(),
                          (sel["northing"] * w).sum() / w.sum())
        labels: dict[str, str] = {}
        for side, name in (("run", "exporter_la"), ("sell", "importer_la")):
            if areas is None or areas.empty:
                labels[name] = ""
                continue
            part = areas[(areas["line_id"] == line_id) & (areas["side"] == side)]
            by_la = part.groupby("la")["records"].sum().sort_values(ascending=False,
                                                                     kind="stable")
            labels[name] = str(by_la.index[0]) if len(by_la) else ""
        geom = (shapely.LineString([ends["run"], ends["sell"]])
                if ends["run"] is not None and ends["sell"] is not None else None)
        rows.append({"line_id": line_id, **labels,
                     "distance_km": round(geom.length / 1000, 1) if geom is not None else None,
                     "geometry": geom})
    return gpd.GeoDataFrame(rows, columns=["line_id", "exporter_la", "importer_la",
                                           "distance_km", "geometry"],
                            geometry="geometry", crs=BNG)
