"""GB rail stations (``stations.csv``: stationName, lat, long, crsCode, ...).

Output columns: ``name, crs_code, country, easting, northing, geometry`` (points,
EPSG:27700), ``_file, _line``. Rows with unusable coordinates, a blank CRS code or a CRS
code seen earlier in the file are rejected with the reason.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from geointel.io._geo import BNG, locate_bng, with_points
from geointel.io._table import FILE, LINE, ReadResult, read_csv_rows

KIND = "rail stations CSV (stationName, lat, long, crsCode)"
COLUMNS = ["name", "crs_code", "country", "easting", "northing", "geometry", FILE, LINE]


def read_rail_stations(path: str | Path) -> ReadResult:
    """Read the GB rail stations list into points in EPSG:27700.

    Parameters
    ----------
    path
        ``stations.csv`` with columns stationName, lat, long, crsCode and optionally
        constituentCountry.

    Returns
    -------
    ReadResult
        ``data`` has ``name, crs_code, country, easting, northing, geometry, _file, _line``.

    Raises
    ------
    DataFileError
        The file is missing, unreadable or lacks a needed column.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "stations.csv")
    >>> _ = open(p, "w").write("stationName,lat,long,crsCode,constituentCountry\\n"
    ...                        "Southend Victoria,51.541,0.7116,SOV,england\\n"
    ...                        "Nowhere,,,NWH,england\\n")
    >>> r = read_rail_stations(p)
    >>> r.data[["crs_code", "country"]].values.tolist(), r.rows_rejected
    ([['SOV', 'england']], 1)
    """
    path = Path(path)
    frame, rejects, rows_read = read_csv_rows(
        path, required=["stationName", "lat", "long", "crsCode"], kind=KIND)
    x, y, problems = locate_bng(frame, easting=None, northing=None,
                                longitude="long", latitude="lat")
    frame = frame.assign(_x=x, _y=y, crsCode=frame["crsCode"].astype(str).str.strip().str.upper())
    frame = rejects.take(frame, problems != "", "no usable location: " + problems)
    frame = rejects.take(frame, frame["crsCode"] == "", "crsCode is blank")
    first = frame.groupby("crsCode")[LINE].transform("first")
    frame = rejects.take(frame, frame["crsCode"].duplicated(keep="first"),
                         "duplicate crsCode " + frame["crsCode"] + " (first on line "
                         + first.astype(str) + ")")
    country = (frame["constituentCountry"] if "constituentCountry" in frame.columns
               else pd.Series("", index=frame.index))
    out = pd.DataFrame({
        "name": frame["stationName"].astype(str).str.strip(),
        "crs_code": frame["crsCode"].astype(str),
        "country": country.astype(str).str.strip().str.lower(),
        FILE: frame[FILE],
        LINE: frame[LINE],
    }, index=frame.index)
    geo = with_points(out, frame["_x"].to_numpy(dtype=float), frame["_y"].to_numpy(dtype=float))
    data = gpd.GeoDataFrame(geo[COLUMNS].reset_index(drop=True), geometry="geometry", crs=BNG)
    return ReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                      sources=(str(path),))
