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
