"""DfT NaPTAN stops (the 43-column ``Stops.csv``), plus the location helper other readers share.

Output columns
--------------
``atco_code, naptan_code, name`` (CommonName), ``indicator, street, locality`` (LocalityName),
``town, stop_type, mode, status, admin_area`` (AdministrativeAreaCode), ``easting, northing,
geometry`` (points, EPSG:27700), ``_file, _line``.

``mode`` comes from the NaPTAN StopType code (NaPTAN schema guide, "StopType"):

=========  ==========================================================  =======
code       meaning                                                     mode
=========  ==========================================================  =======
BCT        on-street bus / coach / trolley stop                        bus
BCS / BCQ  bus / coach station bay (fixed / variable)                  bus
BST / BCE  bus / coach station access area / entrance                  bus
RSE / RLY  rail station entrance / rail access area                    rail
RPL        rail platform                                               rail
TMU / MET  tram, metro, underground entrance / access area             metro
PLT        tram, metro, underground platform                           metro
FTD / FER  ferry terminal or dock entrance / ferry access area         ferry
FBT        ferry or port berth                                         ferry
AIR / GAT  airport entrance / airside area                             air
TXR / STR  taxi rank / shared taxi rank                                taxi
LCE, LCB,  lift or cable car entrance, access area, platform; car      other
LPL, SDA   set-down/pick-up area; anything unknown
=========  ==========================================================  =======

Coordinates come from Easting/Northing (British National Grid; rows whose ``GridType`` is
the Irish grid are treated as having none) and fall back to Longitude/Latitude (WGS84).

Status: real files carry a ``Status`` column (``active``/``inactive``/``pending``, or the
older ``act``/``del``/``pen``) or an ``Active`` column of booleans written ``1/0`` or
``true/false``; all are understood. Only active stops are kept unless
``include_inactive=True``; the others are rejects whose reason says so, so the counts
still add up.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geointel.errors import DataFileError, ValidationError
from geointel.io._geo import BNG, locate_bng, text_column, with_points
from geointel.io._table import FILE, LINE, ReadResult, RejectLog, read_csv_rows

log = logging.getLogger(__name__)

KIND = "NaPTAN Stops.csv file"
COLUMNS = ["atco_code", "naptan_code", "name", "indicator", "street", "locality", "town",
           "stop_type", "mode", "status", "admin_area", "easting", "northing", "geometry",
           FILE, LINE]
STOP_TYPE_MODES: dict[str, str] = {
    "BCT": "bus", "BCS": "bus", "BCQ": "bus", "BST": "bus", "BCE": "bus",
    "RSE": "rail", "RLY": "rail", "RPL": "rail",
    "TMU": "metro", "MET": "metro", "PLT": "metro",
    "FER": "ferry", "FBT": "ferry", "FTD": "ferry",
    "AIR": "air", "GAT": "air",
    "TXR": "taxi", "STR": "taxi",
    "LCE": "other", "LCB": "other", "LPL": "other", "SDA": "other",
}
MODES = ("bus", "rail", "metro", "ferry", "air", "taxi", "other")
_STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(("active", "act", "1", "true", "t", "yes", "y"), "active"),
    **dict.fromkeys(("inactive", "del", "deleted", "0", "false", "f", "no", "n"), "inactive"),
    **dict.fromkeys(("pending", "pen"), "pending"),
}
_RENAME = {"ATCOCode": "atco_code", "NaptanCode": "naptan_code", "CommonName": "name",
           "Indicator": "indicator", "Street": "street", "LocalityName": "locality",
           "Town": "town", "AdministrativeAreaCode": "admin_area"}


def _status(frame: pd.DataFrame) -> pd.Series:
    """``active``/``inactive``/``pending`` per row, or ``"?<raw>"`` when not understood."""
    if "Status" not in frame.columns and "Active" not in frame.columns:
        return pd.Series("active", index=frame.index, dtype=object)
    raw = text_column(frame, "Status")
    raw = raw.where(raw != "", text_column(frame, "Active"))
    status = raw.str.lower().map(_STATUS_WORDS)
    return status.where(status.notna(), "?" + raw).astype(object)


def naptan_files(path: str | Path | Sequence[str | Path]) -> list[Path]:
    """The Stops.csv files named by ``path``: one file, a directory of them, or a list.

    Examples
    --------
    >>> [p.name for p in naptan_files(["158Stops.csv", "159Stops.csv"])]
    ['158Stops.csv', '159Stops.csv']
    """
    if isinstance(path, (str, Path)):
        path = Path(path)
        if path.is_dir():
            files = sorted(p for p in path.iterdir()
                           if p.is_file() and p.name.lower().endswith("stops.csv"))
            if not files:
                raise DataFileError(path, "is a directory with no *Stops.csv files",
                                    fix="point at a NaPTAN Stops.csv or a folder holding them")
            return files
        return [path]
    files = [Path(p) for p in path]
    if not files:
        raise ValidationError("read_naptan: path is an empty list; give at least one Stops.csv")
    return files


def read_naptan(
    path: str | Path | Sequence[str | Path],
    *,
    include_inactive: bool = False,
    modes: Collection[str] | None = None,
) -> ReadResult:
    """Read NaPTAN Stops.csv file(s) into stop points in EPSG:27700.

    Parameters
    ----------
    path
        A Stops.csv, a directory of ``*Stops.csv`` files, or a list of files.
    include_inactive
        Keep inactive and pending stops (default: they are rejected with a reason).
    modes
        Keep only these modes (``bus, rail, metro, ferry, air, taxi, other``); the others
        are rejected with a reason. ``None`` keeps every mode.

    Returns
    -------
    ReadResult
        ``data`` has the columns listed in the module docstring.

    Raises
    ------
    DataFileError
        A file is missing, unreadable or lacks ATCOCode/CommonName/StopType or coordinates.
    ValidationError
        ``modes`` names an unknown mode.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "Stops.csv")
    >>> _ = open(p, "w").write(
    ...     "ATCOCode,CommonName,StopType,Easting,Northing,Longitude,Latitude,Status\\n"
    ...     "15800001,East Beach,BCT,594125,184768,,,active\\n"
    ...     "15800009,Old Stop,BCT,594000,184000,,,inactive\\n")
    >>> r = read_naptan(p)
    >>> r.data[["atco_code", "mode"]].values.tolist(), r.rejects["reason"].tolist()
    ([['15800001', 'bus']], ['stop is inactive; pass include_inactive=True to keep it'])
    """
    if modes is not None:
        unknown = sorted(set(modes) - set(MODES))
        if unknown:
            raise ValidationError(f"read_naptan: modes has unknown value(s) {unknown}; "
                                  f"choose from {', '.join(MODES)}")
    frames: list[pd.DataFrame] = []
    rejects = RejectLog()
    rows_read = 0
    files = naptan_files(path)
    for file in files:
        frame, file_log, n = read_csv_rows(file, required=["ATCOCode", "CommonName", "StopType"],
                                           kind=KIND)
        has_en = {"Easting", "Northing"} <= set(frame.columns)
        if not has_en and not {"Longitude", "Latitude"} <= set(frame.columns):
            raise DataFileError(file, "has neither Easting/Northing nor Longitude/Latitude",
                                fix=f"check that this is a {KIND}")
        frames.append(frame)
        for (name, reason), part in file_log.frame().groupby(["file", "reason"]):
            rejects.add(str(name), part["line"].tolist(), str(reason))
        rows_read += n
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return _validate(frame, rejects, rows_read, files,
                     include_inactive=include_inactive, modes=modes)


def _validate(frame: pd.DataFrame, rejects: RejectLog, rows_read: int, files: list[Path], *,
              include_inactive: bool, modes: Collection[str] | None) -> ReadResult:
    frame = frame.copy()
    frame["ATCOCode"] = frame["ATCOCode"].astype(str).str.strip()
    frame = rejects.take(frame, frame["ATCOCode"] == "", "ATCOCode is blank")
    if "GridType" in frame.columns:
        irish = frame["GridType"].astype(str).str.strip().str.upper().str.startswith("I")
        if irish.any():
            frame.loc[irish, ["Easting", "Northing"]] = ""
    x, y, problems = locate_bng(frame, easting="Easting", northing="Northing",
                                longitude="Longitude", latitude="Latitude")
    frame = frame.assign(_x=x, _y=y)
    frame = rejects.take(frame, problems != "", "no usable location: " + problems)

    stop_type = text_column(frame, "StopType").str.upper()
    mode = stop_type.map(STOP_TYPE_MODES).fillna("other").astype(object)
    frame = frame.assign(stop_type=stop_type, mode=mode, status=_status(frame))
    if modes is not None:
        wanted = sorted(set(modes))
        frame = rejects.take(frame, ~frame["mode"].isin(wanted),
                             "mode " + frame["mode"] + f" is not in modes={wanted}")
    unknown = frame["status"].str.startswith("?")
    frame = rejects.take(frame, unknown, "status " + frame["status"].str[1:].map(repr)
                         + " is not active/inactive/pending or a true/false value")
    if not include_inactive:
        frame = rejects.take(frame, frame["status"] != "active",
                             "stop is " + frame["status"]
                             + "; pass include_inactive=True to keep it")
    first = frame.groupby("ATCOCode")[LINE].transform("first")
    first_file = frame.groupby("ATCOCode")[FILE].transform("first")
    frame = rejects.take(frame, frame["ATCOCode"].duplicated(keep="first"),
                         "duplicate ATCOCode " + frame["ATCOCode"] + " (first in "
                         + first_file + " line " + first.astype(str) + ")")

    out = pd.DataFrame({new: text_column(frame, old) for old, new in _RENAME.items()},
                       index=frame.index)
    out = out.assign(stop_type=frame["stop_type"], mode=frame["mode"].astype(str),
                     status=frame["status"].astype(str),
                     **{FILE: frame[FILE], LINE: frame[LINE]})
    geo = with_points(out, frame["_x"].to_numpy(dtype=float), frame["_y"].to_numpy(dtype=float))
    data = gpd.GeoDataFrame(geo[COLUMNS].reset_index(drop=True), geometry="geometry", crs=BNG)
    log.info("read %d NaPTAN stops from %d file(s); %d rejected", len(data), len(files),
             rows_read - len(data))
    return ReadResult(data=data, rejects=rejects.frame(), rows_read=rows_read,
                      sources=tuple(str(f) for f in files))
