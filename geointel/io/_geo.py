"""Coordinate checks shared by the readers: plausible values, conversion to BNG.

Examples
--------
>>> import pandas as pd
>>> lon, lat = pd.Series(["0.71", "x", "200"]), pd.Series(["51.54", "51", "51"])
>>> lonlat_problems(lon, lat).tolist()
['', 'longitude/latitude are not numbers', 'longitude/latitude outside Great Britain']
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"

# Generous boxes around Great Britain and its waters.
LON_RANGE = (-9.0, 3.0)
LAT_RANGE = (49.0, 61.5)
EASTING_RANGE = (0.0, 700_000.0)
NORTHING_RANGE = (0.0, 1_300_000.0)


def _problems(x: pd.Series, y: pd.Series, xr: tuple[float, float], yr: tuple[float, float],
              names: str) -> pd.Series:
    xs = pd.to_numeric(x, errors="coerce")
    ys = pd.to_numeric(y, errors="coerce")
    blank = x.astype(str).str.strip().eq("") & y.astype(str).str.strip().eq("")
    nan = xs.isna() | ys.isna()
    outside = ~nan & ~(xs.between(*xr) & ys.between(*yr))
    out = pd.Series("", index=x.index, dtype=object)
    out[nan] = f"{names} are not numbers"
    out[blank] = f"{names} are blank"
    out[outside] = f"{names} outside Great Britain"
    return out


def lonlat_problems(lon: pd.Series, lat: pd.Series) -> pd.Series:
    """Per row: ``""`` if lon/lat are usable, else the reason they are not."""
    return _problems(lon, lat, LON_RANGE, LAT_RANGE, "longitude/latitude")


def bng_problems(easting: pd.Series, northing: pd.Series) -> pd.Series:
    """Per row: ``""`` if easting/northing are usable BNG metres, else the reason."""
    return _problems(easting, northing, EASTING_RANGE, NORTHING_RANGE, "easting/northing")


def points_bng(frame: pd.DataFrame, x: str, y: str, *, crs: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:27700 with points from columns ``x``/``y`` given in ``crs``.

    Also adds ``easting``/``northing`` columns (metres) for quick numeric work.
    """
    xs = pd.to_numeric(frame[x]).to_numpy(dtype=float)
    ys = pd.to_numeric(frame[y]).to_numpy(dtype=float)
    geo = gpd.GeoDataFrame(frame.copy(), geometry=gpd.points_from_xy(xs, ys), crs=crs)
    if geo.crs is not None and geo.crs.to_epsg() != 27700:
        geo = geo.to_crs(BNG)
    geo["easting"] = np.round(geo.geometry.x.to_numpy(), 1)
    geo["northing"] = np.round(geo.geometry.y.to_numpy(), 1)
    return geo


def text_column(frame: pd.DataFrame, name: str | None) -> pd.Series:
    """Column ``name`` as stripped text, or blanks when ``name`` is None or absent."""
    if name is None or name not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[name].astype(str).str.strip()


def locate_bng(
    frame: pd.DataFrame,
    *,
    easting: str | None = "easting",
    northing: str | None = "northing",
    longitude: str | None = "longitude",
    latitude: str | None = "latitude",
) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """BNG coordinates from easting/northing, falling back to longitude/latitude, per row.

    Parameters
    ----------
    frame
        Text columns as :func:`~geointel.io._table.read_csv_rows` gives them.
    easting, northing, longitude, latitude
        Column names; a pair with a name that is ``None`` or not in ``frame`` is blank
        (and left out of the reasons).

    Returns
    -------
    x, y, problems
        Easting and northing in metres (NaN where unusable) and, per row, ``""`` or the
        reason neither pair is usable.

    Examples
    --------
    >>> f = pd.DataFrame({"easting": ["594125", "", ""], "northing": ["184768", "", ""],
    ...                   "longitude": ["", "0.7972", "x"], "latitude": ["", "51.5284", "51"]})
    >>> x, y, why = locate_bng(f)
    >>> float(x[0]), float(round(x[1], -1)), why.tolist()[2]
    (594125.0, 594130.0, 'easting/northing are blank; longitude/latitude are not numbers')
    """
    e, n = text_column(frame, easting), text_column(frame, northing)
    lon, lat = text_column(frame, longitude), text_column(frame, latitude)
    en_problem = bng_problems(e, n)
    ll_problem = lonlat_problems(lon, lat)
    use_en = (en_problem == "").to_numpy()
    use_ll = ~use_en & (ll_problem == "").to_numpy()
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    x[use_en] = pd.to_numeric(e[use_en]).to_numpy(dtype=float)
    y[use_en] = pd.to_numeric(n[use_en]).to_numpy(dtype=float)
    if use_ll.any():
        from pyproj import Transformer

        to_bng = Transformer.from_crs("EPSG:4326", BNG, always_xy=True)
        x[use_ll], y[use_ll] = to_bng.transform(
            pd.to_numeric(lon[use_ll]).to_numpy(dtype=float),
            pd.to_numeric(lat[use_ll]).to_numpy(dtype=float))
    parts = [problem for problem, names in ((en_problem, (easting, northing)),
                                            (ll_problem, (longitude, latitude)))
             if all(name is not None and name in frame.columns for name in names)]
    if not parts:
        parts = [pd.Series("there are no coordinate columns", index=frame.index, dtype=object)]
    problems = parts[0] if len(parts) == 1 else parts[0] + "; " + parts[1]
    return x, y, problems.where(~(use_en | use_ll), "")


def with_points(frame: pd.DataFrame, x: np.ndarray, y: np.ndarray) -> gpd.GeoDataFrame:
    """``frame`` as a GeoDataFrame in EPSG:27700 with points at ``x``/``y`` (None where NaN).

    Also sets ``easting``/``northing`` (metres, one decimal; NaN where there is no point).

    Examples
    --------
    >>> g = with_points(pd.DataFrame({"a": [1, 2]}), np.array([1.0, np.nan]),
    ...                 np.array([2.0, np.nan]))
    >>> g.geometry.isna().tolist(), g.crs.to_epsg()
    ([False, True], 27700)
    """
    have = ~(np.isnan(x) | np.isnan(y))
    points = np.full(len(frame), None, dtype=object)
    points[have] = gpd.points_from_xy(x[have], y[have])
    geo = gpd.GeoDataFrame(frame.copy(), geometry=gpd.GeoSeries(points, index=frame.index,
                                                                crs=BNG), crs=BNG)
    geo["easting"] = np.round(x, 1)
    geo["northing"] = np.round(y, 1)
    return geo
