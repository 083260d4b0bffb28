"""Obtain the open data for an area: from a local mirror, or the official sources.

:func:`sync` gathers, for the named local authorities, everything the analysis reads
(LSOA/MSOA/ward boundaries, Census 2011 population, IMD 2019 and its indicators,
population-weighted centroids, NaPTAN stops, rail stations and every police.uk month of
the forces covering them) into ``data_dir``, laid out exactly like the mirror
(``data_dir/boundaries/lsoa11/E06000033.geojson``, ``data_dir/police_uk/2018-10-essex-street.csv``
...), and records each file's source, licence, attribution, checksum, size and date in
``data_dir/manifest.json``.

Where the files come from:

* a **mirror** directory laid out like ``../shared/data`` (files are copied, never linked,
  and files already present with the same checksum are left alone);
* otherwise the **official sources**, through the URL templates in :data:`OFFICIAL_URLS`
  (built by :func:`official_urls`, whose base URLs can be replaced), or any other table of
  templates, e.g. :func:`mirror_urls` for an HTTP server that serves a mirror-shaped tree.

The official templates follow each publisher's URL scheme (ONS Open Geography Portal
feature services, data.police.uk monthly archives, the NaPTAN API, gov.uk IoD2019 files);
ONS service names change between releases, so a failed download names the URL it tried.
The official files keep the publishers' formats (e.g. IoD2019 File 7 rather than the
mirror's slimmer IMD CSV); the readers accept both where they differ.

Examples
--------
>>> sorted(AUTHORITIES)[:3]
['E06000033', 'E06000034', 'E06000045']
>>> AUTHORITIES["E07000076"].name, AUTHORITIES["E07000076"].file_code
('Tendring', 'E10000012')
>>> needed_files(["E06000033"], police_months={"essex": ["2018-10"]})[:2]
['boundaries/lsoa11/E06000033.geojson', 'boundaries/msoa11/E06000033.geojson']
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geointel._progress import Progress, report
from geointel.errors import DataFileError, MissingDataError, ValidationError

log = logging.getLogger(__name__)

OGL = "Open Government Licence v3.0"
ODBL = "Open Database License (ODbL) v1.0"
OGL_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0. "
    "Contains OS data © Crown copyright and database right. Source: Office for National "
    "Statistics, MHCLG, data.police.uk, DfT NaPTAN."
)
RAIL_ATTRIBUTION = (
    "Rail stations: community-maintained list of GB stations (uk-railway-stations), "
    "available under the Open Database License (ODbL) v1.0."
)
MANIFEST = "manifest.json"
NATIONAL_RAIL_NAPTAN = "910"
#: police.uk months fetched from the official archive when no mirror says what exists.
DEFAULT_MONTHS = ("2018-10", "2018-11", "2018-12", "2019-01", "2019-02")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_CHUNK = 1 << 20
_FIRST_SEEN = r",? first seen at .*$"


@dataclass(frozen=True)
class Authority:
    """A local authority the project can sync.

    Attributes
    ----------
    code, name
        ONS code and name.
    file_code
        The authority whose boundary files hold its LSOAs (a district's county).
    force
        police.uk force slug covering it.
    naptan
        NaPTAN administrative-area codes to fetch: its own area first, then the
        neighbouring areas whose stops serve it across the boundary.
    """

    code: str
    name: str
    file_code: str
    force: str
    naptan: tuple[str, ...]


ESSEX = "E10000012"
ESSEX_DISTRICTS = {
    "E07000066": "Basildon", "E07000067": "Braintree", "E07000068": "Brentwood",
    "E07000069": "Castle Point", "E07000070": "Chelmsford", "E07000071": "Colchester",
    "E07000072": "Epping Forest", "E07000073": "Harlow", "E07000074": "Maldon",
    "E07000075": "Rochford", "E07000076": "Tendring", "E07000077": "Uttlesford",
}
AUTHORITIES: Mapping[str, Authority] = {
    "E06000033": Authority("E06000033", "Southend-on-Sea", "E06000033", "essex", ("158", "150")),
    "E06000034": Authority("E06000034", "Thurrock", "E06000034", "essex", ("159", "150")),
    ESSEX: Authority(ESSEX, "Essex", ESSEX, "essex", ("150", "158", "159")),
    "E06000045": Authority("E06000045", "Southampton", "E06000045", "hampshire", ("198", "190")),
    **{code: Authority(code, name, ESSEX, "essex", ("150", "158", "159"))
       for code, name in ESSEX_DISTRICTS.items()},
}

#: Where each kind of file lives, relative to a mirror or ``data_dir``.
LAYOUT: Mapping[str, str] = {
    "lsoa11": "boundaries/lsoa11/{code}.geojson",
    "msoa11": "boundaries/msoa11/{code}.geojson",
    "ward": "boundaries/ward/{code}.geojson",
    "population": "population/census2011_lsoa11_population.csv",
    "imd": "imd/imd2019_england_lsoa11.csv",
    "imd_indicators": "imd/imd2019_england_lsoa11_indicators.csv",
    "centroids": "centroids/lsoa11_population_weighted_centroids.csv",
    "naptan": "naptan/{naptan}Stops.csv",
    "rail": "rail/stations.csv",
    "police": "police_uk/{month}-{force}-street.csv",
}

#: Base URL of each official publisher; replace them with ``official_urls(bases=...)``.
OFFICIAL_BASES: Mapping[str, str] = {
    "ons": "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services",
    "police": "https://data.police.uk/data",
    "naptan": "https://naptan.api.dft.gov.uk/v1",
    "govuk": "https://assets.publishing.service.gov.uk/media",
    "rail": "https://raw.githubusercontent.com/davwheat/uk-railway-stations/main",
}

#: One URL template per kind of file. ``{base[...]}`` is a publisher from OFFICIAL_BASES;
#: ``{where}`` an ArcGIS filter for the authority, ``{naptan}``, ``{month}``, ``{force}``
#: and ``{archive}`` (the latest month wanted) are filled per file. ``url#member`` means
#: "the member of the ZIP archive at url".
URL_TEMPLATES: Mapping[str, str] = {
    "lsoa11": "{base[ons]}/LSOA_Dec_2011_Boundaries_Generalised_Clipped_BGC_EW_V3/FeatureServer"
              "/0/query?where={where}&outFields=*&outSR=4326&f=geojson",
    "msoa11": "{base[ons]}/MSOA_Dec_2011_Boundaries_Generalised_Clipped_BGC_EW_V3/FeatureServer"
              "/0/query?where={where}&outFields=*&outSR=4326&f=geojson",
    "ward": "{base[ons]}/Wards_December_2025_Boundaries_UK_BGC/FeatureServer/0/query"
            "?where={where}&outFields=*&outSR=4326&f=geojson",
    "population": "{base[ons]}/Census_2011_LSOA_Population_and_Households_EW/FeatureServer/0"
                  "/query?where=1%3D1&outFields=*&f=csv",
    "imd": "{base[govuk]}/5dc407b440f0b6379a7acc8d/File_7_-_All_IoD2019_Scores__Ranks__Deciles"
           "_and_Population_Denominators_3.csv",
    "imd_indicators": "{base[govuk]}/5dc407b440f0b6379a7acc8d/File_8_-_IoD2019_Underlying"
                      "_Indicators_3.csv",
    "centroids": "{base[ons]}/LSOA_Dec_2011_PWC_in_England_and_Wales_2022/FeatureServer/0"
                 "/query?where=1%3D1&outFields=*&f=csv",
    "naptan": "{base[naptan]}/access-nodes?dataFormat=csv&atcoAreaCodes={naptan}",
    "rail": "{base[rail]}/stations.csv",
    "police": "{base[police]}/archive/{archive}.zip#{month}/{month}-{force}-street.csv",
}


def official_urls(bases: Mapping[str, str] | None = None) -> dict[str, str]:
    """The official URL templates, with some or all publishers' base URLs replaced.

    Examples
    --------
    >>> official_urls({"naptan": "http://127.0.0.1:8000"})["naptan"]
    'http://127.0.0.1:8000/access-nodes?dataFormat=csv&atcoAreaCodes={naptan}'
    """
    merged = {**OFFICIAL_BASES, **(bases or {})}
    unknown = sorted(set(merged) - set(OFFICIAL_BASES))
    if unknown:
        raise ValidationError(f"official_urls: unknown publisher(s) {', '.join(unknown)}; "
                              f"known: {', '.join(OFFICIAL_BASES)}")
    out = {}
    for kind, template in URL_TEMPLATES.items():
        for name, base in merged.items():
            template = template.replace("{base[" + name + "]}", base.rstrip("/"))
        out[kind] = template
    return out


OFFICIAL_URLS: Mapping[str, str] = official_urls()


def mirror_urls(base_url: str) -> dict[str, str]:
    """URL templates for an HTTP server that serves a mirror-shaped directory tree.

    Examples
    --------
    >>> mirror_urls("http://127.0.0.1:8000/")["police"]
    'http://127.0.0.1:8000/police_uk/{month}-{force}-street.csv'
    """
    return {kind: base_url.rstrip("/") + "/" + path for kind, path in LAYOUT.items()}


@dataclass(frozen=True)
class SyncedFile:
    """One file placed in ``data_dir`` by :func:`sync`.

    ``action`` is ``"copied"``, ``"downloaded"`` or ``"unchanged"`` (already present with
    the same checksum).
    """

    path: str
    source: str
    action: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class SyncReport:
    """What :func:`sync` did.

    Attributes
    ----------
    data_dir
        Where the files are.
    areas
        The authorities synced by this call.
    source
        The mirror directory, or ``"download"``.
    files
        Every file needed, with what was done to it.
    police
        Accounting of the police.uk files synced: ``files``, ``rows_read``,
        ``rows_accepted``, ``rows_rejected``, ``reject_reasons`` (from
        :func:`geointel.io.police_uk.read_police_uk`) and ``rows_by_file``.
    manifest
        The manifest written.
    """

    data_dir: Path
    areas: tuple[str, ...]
    source: str
    files: tuple[SyncedFile, ...]
    police: Mapping[str, Any] = field(default_factory=dict)
    manifest: Path | None = None

    def count(self, action: str) -> int:
        """How many files had ``action`` (``"copied"``, ``"downloaded"``, ``"unchanged"``)."""
        return sum(f.action == action for f in self.files)

    def summary(self) -> dict[str, Any]:
        """Counts for the CLI: files, bytes, police rows read/accepted/rejected."""
        return {
            "data_dir": str(self.data_dir),
            "areas": list(self.areas),
            "source": self.source,
            "files": len(self.files),
            "copied": self.count("copied"),
            "downloaded": self.count("downloaded"),
            "unchanged": self.count("unchanged"),
            "bytes": sum(f.bytes for f in self.files),
            "manifest": str(self.manifest) if self.manifest else None,
            "police": dict(self.police),
        }


def check_areas(areas: Sequence[str]) -> tuple[str, ...]:
    """Validated, de-duplicated authority codes (order kept).

    Raises
    ------
    ValidationError
        If ``areas`` is empty or names an authority the project does not know.

    Examples
    --------
    >>> check_areas(["E06000033", " E06000033 "])
    ('E06000033',)
    """
    if isinstance(areas, str):
        areas = [areas]
    codes = tuple(dict.fromkeys(a.strip().upper() for a in areas if a and a.strip()))
    if not codes:
        raise ValidationError("areas: no local authority code given; pass e.g. --area E06000033")
    unknown = [c for c in codes if c not in AUTHORITIES]
    if unknown:
        known = ", ".join(f"{a.code} {a.name}" for a in AUTHORITIES.values())
        raise ValidationError(
            f"areas: unknown local authority code(s) {', '.join(unknown)}; known: {known}")
    return codes


def needed_files(areas: Sequence[str], *, police_months: Mapping[str, Sequence[str]]
                 ) -> list[str]:
    """Relative paths of every file the named authorities need, in a stable order.

    ``police_months`` maps each force slug to the months to include.
    """
    codes = check_areas(areas)
    auth = [AUTHORITIES[c] for c in codes]
    file_codes = list(dict.fromkeys(a.file_code for a in auth))
    naptan = list(dict.fromkeys([n for a in auth for n in a.naptan] + [NATIONAL_RAIL_NAPTAN]))
    forces = list(dict.fromkeys(a.force for a in auth))
    paths = [LAYOUT[k].format(code=c) for c in file_codes for k in ("lsoa11", "msoa11", "ward")]
    paths += [LAYOUT[k] for k in ("population", "imd", "imd_indicators", "centroids")]
    paths += [LAYOUT["naptan"].format(naptan=n) for n in naptan]
    paths.append(LAYOUT["rail"])
    paths += [LAYOUT["police"].format(month=m, force=f)
              for f in forces for m in police_months.get(f, ())]
    return paths


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_months(months: Sequence[str] | None) -> tuple[str, ...] | None:
    if months is None:
        return None
    bad = [m for m in months if not _MONTH.match(m)]
    if bad or not months:
        raise ValidationError(f"months: {bad or 'none'} not usable; give months as YYYY-MM, "
                              "e.g. 2018-10")
    return tuple(sorted(set(months)))


def _mirror_months(mirror: Path, forces: Sequence[str],
                   months: tuple[str, ...] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for force in forces:
        found = sorted(p.name[:7] for p in (mirror / "police_uk").glob(f"*-{force}-street.csv")
                       if _MONTH.match(p.name[:7]))
        if months is not None:
            found = [m for m in found if m in months]
        if not found:
            raise MissingDataError(
                f"the mirror {mirror} has no police.uk file for force {force!r}"
                + (f" in months {', '.join(months)}" if months else "")
                + f" (looked for police_uk/YYYY-MM-{force}-street.csv). Fix: point "
                "GEOINTEL_MIRROR / --mirror at a complete copy of the open data")
        out[force] = found
    return out


def _licence(rel: str) -> tuple[str, str]:
    return (ODBL, RAIL_ATTRIBUTION) if rel == LAYOUT["rail"] else (OGL, OGL_ATTRIBUTION)


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"areas": [], "files": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"is not a valid manifest ({err})",
                            fix="delete it and run `geointel data sync` again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise DataFileError(path, "is not a geointel manifest (no 'files' table)",
                            fix="delete it and run `geointel data sync` again")
    manifest.setdefault("areas", [])
    return manifest


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _present(dest: Path) -> bool:
    """A real file (not a symlink) is at ``dest``."""
    return dest.is_file() and not dest.is_symlink()


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    shutil.copyfile(src, tmp, follow_symlinks=True)
    os.replace(tmp, dest)  # replaces a symlink at dest by the real file


def _arcgis_where(kind: str, file_code: str) -> str:
    codes = [c for c, a in AUTHORITIES.items()
             if a.file_code == file_code and not c.startswith("E10")]
    if kind == "ward":
        clause = "LAD25CD IN (" + ",".join(f"'{c}'" for c in codes) + ")"
    else:
        column = "LSOA11NM" if kind == "lsoa11" else "MSOA11NM"
        clause = " OR ".join(f"{column} LIKE '{AUTHORITIES[c].name} %'" for c in codes)
    return urllib.parse.quote(clause, safe="")


def _url_for(rel: str, urls: Mapping[str, str], archive: str) -> str:
    """The URL of a relative path of the layout, from the templates ``urls``."""
    parts = Path(rel).parts
    if parts[0] == "boundaries":
        kind, code = parts[1], Path(parts[2]).stem
        return urls[kind].format(code=code, where=_arcgis_where(kind, code))
    if parts[0] == "naptan":
        return urls["naptan"].format(naptan=parts[1].removesuffix("Stops.csv"))
    if parts[0] == "police_uk":
        name = parts[1]
        month, force = name[:7], name[8:].removesuffix("-street.csv")
        return urls["police"].format(month=month, force=force, archive=archive)
    kind = next(k for k, v in LAYOUT.items() if v == rel)
    return urls[kind]


class _Downloader:
    """Fetches URLs into files; ZIP archives are fetched once per sync and kept in a temp dir."""

    def __init__(self, workdir: Path, timeout: float) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.archives: dict[str, Path] = {}

    def _fetch(self, url: str, dest: Path) -> None:
        request = urllib.request.Request(url, headers={"User-Agent": "geointel open-data sync"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response, \
                    open(dest, "wb") as out:
                shutil.copyfileobj(response, out, _CHUNK)
        except urllib.error.HTTPError as err:
            raise MissingDataError(
                f"downloading {url} failed: HTTP {err.code} {err.reason}. Fix: the source may "
                "have moved; set GEOINTEL_MIRROR (or pass --mirror) to a copy of the open data "
                "laid out like ../shared/data") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError,
                http.client.HTTPException) as err:
            reason = getattr(err, "reason", err)
            raise MissingDataError(
                f"cannot download {url} ({reason}) and no open-data mirror is configured. "
                "Fix: set GEOINTEL_MIRROR (or pass --mirror DIR) to a copy of the open data "
                "laid out like ../shared/data, or connect to the internet and run "
                "`geointel data sync` again") from None

    def get(self, url: str, dest: Path) -> None:
        """Download ``url`` (or a ``zip-url#member``) to ``dest``, replacing it atomically."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.partial")
        try:
            self._get(url, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _check_download(url, tmp, dest)
        os.replace(tmp, dest)

    def _get(self, url: str, tmp: Path) -> None:
        if "#" in url:
            archive_url, member = url.split("#", 1)
            if archive_url not in self.archives:
                path = self.workdir / f"archive{len(self.archives)}.zip"
                self._fetch(archive_url, path)
                self.archives[archive_url] = path
            try:
                with zipfile.ZipFile(self.archives[archive_url]) as zf, \
                        zf.open(member) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            except KeyError:
                raise MissingDataError(
                    f"the archive {archive_url} has no {member}. Fix: choose months the "
                    "archive covers, or use a mirror (GEOINTEL_MIRROR / --mirror)") from None
            except zipfile.BadZipFile:
                raise DataFileError(archive_url, "is not a ZIP archive",
                                    fix="download it again; the server may have sent an "
                                        "error page") from None
        else:
            self._fetch(url, tmp)


def _check_download(url: str, tmp: Path, dest: Path) -> None:
    with open(tmp, "rb") as fh:
        head = fh.read(512).lstrip().lower()
    if not head:
        tmp.unlink()
        raise DataFileError(url, f"sent an empty file for {dest.name}",
                            fix="try again later, or use a mirror (GEOINTEL_MIRROR / --mirror)")
    if dest.suffix == ".csv" and head.startswith(b"pk\x03\x04"):
        tmp.unlink()
        raise DataFileError(url, f"sent a ZIP/XLSX file instead of the CSV {dest.name}",
                            fix="save the sheet as CSV UTF-8 at data_dir/" + dest.name
                                + ", or use a mirror (GEOINTEL_MIRROR / --mirror)")
    if head.startswith((b"<!doctype html", b"<html")):
        tmp.unlink()
        raise DataFileError(url, f"sent an HTML page instead of {dest.name}",
                            fix="the source has probably moved; use a mirror "
                                "(GEOINTEL_MIRROR / --mirror) or update the URL table")
    if dest.suffix == ".geojson":
        try:
            doc = json.loads(tmp.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None
        problem = ("is not GeoJSON" if not isinstance(doc, dict)
                   else f"returned an error: {doc['error']}" if "error" in doc
                   else "returned a truncated result (exceededTransferLimit)"
                   if doc.get("exceededTransferLimit") or doc.get("properties", {}).get(
                       "exceededTransferLimit") else "")
        if problem:
            tmp.unlink()
            raise DataFileError(url, f"{problem} for {dest.name}",
                                fix="check the URL table in geointel.opendata, or use a mirror")


def _police_accounting(paths: Sequence[Path], progress: Progress | None,
                       done: int, total: int) -> dict[str, Any]:
    """Read the police.uk files together and account for every row.

    Reasons that name where a duplicate was first seen are grouped under one reason.
    """
    from geointel.io.police_uk import read_police_uk

    report(progress, done, total, "checking police.uk rows")
    result = read_police_uk(list(paths))
    reasons = result.rejects["reason"].astype(str).str.replace(_FIRST_SEEN, "", regex=True)
    rejected = result.rejects["file"].astype(str).value_counts()
    accepted = result.data["_file"].astype(str).value_counts()
    return {
        "files": len(paths),
        "rows_read": result.rows_read,
        "rows_accepted": result.rows_accepted,
        "rows_rejected": result.rows_rejected,
        "reject_reasons": {str(k): int(v) for k, v in reasons.value_counts().sort_index().items()},
        "rows_by_file": {
            Path(p).name: {"accepted": int(accepted.get(str(p), 0)),
                           "rejected": int(rejected.get(str(p), 0))}
            for p in paths
        },
    }


def sync(
    areas: Sequence[str],
    *,
    data_dir: Path,
    mirror: Path | None = None,
    urls: Mapping[str, str] | None = None,
    months: Sequence[str] | None = None,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> SyncReport:
    """Gather the open data for ``areas`` into ``data_dir`` and update its manifest.

    Parameters
    ----------
    areas
        Local authority codes: unitary (E06...), county (E10000012) or Essex district
        (E07000066-E07000077, synced through its county's files).
    data_dir
        Destination; laid out like the mirror, with ``manifest.json`` at the top.
    mirror
        A directory laid out like ``../shared/data`` to copy from (e.g.
        ``settings.resolved_mirror()``). ``None`` downloads instead.
    urls
        URL templates per kind of file when downloading (default :data:`OFFICIAL_URLS`;
        see :func:`official_urls` and :func:`mirror_urls`).
    months
        police.uk months (``YYYY-MM``) to include. Default: every month the mirror has
        for the forces, or :data:`DEFAULT_MONTHS` when downloading.
    timeout
        Seconds to wait for each connection when downloading.
    progress
        ``progress(done, total, message)`` callback.

    Returns
    -------
    SyncReport
        Files placed, bytes, and the police.uk row accounting.

    Raises
    ------
    ValidationError
        Unknown area code or bad month.
    MissingDataError
        The mirror lacks a file, or a download fails (e.g. offline with no mirror).

    Examples
    --------
    >>> from geointel.settings import Settings
    >>> import tempfile
    >>> m = Settings().resolved_mirror()
    >>> r = sync(["E06000033"], data_dir=Path(tempfile.mkdtemp()), mirror=m,
    ...          months=["2018-10"]) if m else None
    >>> r is None or r.police["rows_read"] == r.police["rows_accepted"] + r.police["rows_rejected"]
    True
    """
    codes = check_areas(areas)
    wanted = _check_months(months)
    forces = list(dict.fromkeys(AUTHORITIES[c].force for c in codes))
    data_dir = Path(data_dir)
    manifest_path = data_dir / MANIFEST
    manifest = _load_manifest(manifest_path)
    today = _dt.date.today().isoformat()
    if mirror is not None:
        mirror = Path(mirror)
        if not mirror.is_dir():
            raise MissingDataError(
                f"the open-data mirror {mirror} is not a directory. Fix: set GEOINTEL_MIRROR "
                "(or --mirror) to a copy of the open data laid out like ../shared/data")
        police_months = _mirror_months(mirror, forces, wanted)
    else:
        chosen = wanted or DEFAULT_MONTHS
        police_months = {f: list(chosen) for f in forces}
    rels = needed_files(codes, police_months=police_months)
    users: dict[str, set[str]] = {}
    for code in codes:
        for rel in needed_files([code], police_months=police_months):
            users.setdefault(rel, set()).add(code)
    total = len(rels) + 1
    files: list[SyncedFile] = []
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".sync-") as work:
        downloader = _Downloader(Path(work), timeout)
        archive = max(m for ms in police_months.values() for m in ms)
        for i, rel in enumerate(rels):
            report(progress, i, total, rel)
            dest = data_dir / rel
            entry = manifest["files"].get(rel, {})
            if mirror is not None:
                src = mirror / rel
                if not src.is_file():
                    raise MissingDataError(
                        f"the open-data mirror {mirror} has no {rel}. Fix: point "
                        "GEOINTEL_MIRROR / --mirror at a complete copy of the open data")
                source, digest = str(src.resolve()), sha256_file(src)
                if _present(dest) and sha256_file(dest) == digest:
                    action = "unchanged"
                else:
                    _copy(src, dest)
                    action = "copied"
            else:
                source = _url_for(rel, urls or OFFICIAL_URLS, archive)
                if (_present(dest) and entry.get("source") == source
                        and sha256_file(dest) == entry.get("sha256")):
                    action, digest = "unchanged", entry["sha256"]
                else:
                    log.info("downloading %s from %s", rel, source)
                    downloader.get(source, dest)
                    action, digest = "downloaded", sha256_file(dest)
            size = dest.stat().st_size
            if action != "unchanged" or entry.get("sha256") != digest or "obtained" not in entry:
                entry = {**entry, "obtained": today}
            licence, attribution = _licence(rel)
            manifest["files"][rel] = {
                **entry,
                "source": source,
                "licence": licence,
                "attribution": attribution,
                "sha256": digest,
                "bytes": size,
                "areas": sorted(set(entry.get("areas", [])) | users[rel]),
            }
            files.append(SyncedFile(rel, source, action, size, digest))
    manifest["areas"] = sorted(set(manifest["areas"]) | set(codes))
    manifest["updated"] = today
    _write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    police_paths = [data_dir / f.path for f in files if f.path.startswith("police_uk/")]
    police = _police_accounting(police_paths, progress, len(rels), total)
    report(progress, total, total, "done")
    log.info("synced %d files for %s into %s (%d copied, %d downloaded, %d unchanged)",
             len(files), ", ".join(codes), data_dir,
             sum(f.action == "copied" for f in files),
             sum(f.action == "downloaded" for f in files),
             sum(f.action == "unchanged" for f in files))
    return SyncReport(data_dir=data_dir, areas=codes,
                      source=str(mirror) if mirror is not None else "download",
                      files=tuple(files), police=police, manifest=manifest_path)


def read_manifest(data_dir: Path) -> dict[str, Any]:
    """The manifest of ``data_dir`` (``{"areas": [], "files": {}}`` if never synced).

    Examples
    --------
    >>> import tempfile
    >>> read_manifest(Path(tempfile.mkdtemp()))
    {'areas': [], 'files': {}}
    """
    return _load_manifest(Path(data_dir) / MANIFEST)


__all__ = [
    "AUTHORITIES", "LAYOUT", "OFFICIAL_BASES", "OFFICIAL_URLS", "URL_TEMPLATES", "Authority",
    "SyncReport", "SyncedFile", "check_areas", "mirror_urls", "needed_files",
    "official_urls", "read_manifest", "sha256_file", "sync",
]
