"""Open-data sync: layout, manifest, checksums, police accounting, download path, offline."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from geointel.errors import DataFileError, MissingDataError, ValidationError
from geointel.opendata import (
    LAYOUT,
    ODBL,
    OGL,
    OGL_ATTRIBUTION,
    check_areas,
    mirror_urls,
    needed_files,
    official_urls,
    read_manifest,
    sync,
)

POLICE_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                 "LSOA code,LSOA name,Crime type,Last outcome category,Context\n")
# 4 rows: 2 good, 1 "No Location", 1 repeating the first Crime ID.
ESSEX_ROWS = (
    "a1,2018-10,Essex Police,Essex Police,0.71,51.54,On or near X,E01015814,"
    "Southend-on-Sea 003A,Drugs,Under investigation,\n"
    ",2018-10,Essex Police,Essex Police,0.72,51.55,On or near Y,E01015814,"
    "Southend-on-Sea 003A,Anti-social behaviour,,\n"
    "b2,2018-10,Essex Police,Essex Police,,,No Location,,,Burglary,Under investigation,\n"
    "a1,2018-10,Essex Police,Essex Police,0.71,51.54,On or near X,E01015814,"
    "Southend-on-Sea 003A,Drugs,Under investigation,\n"
)
HANTS_ROWS = ("h1,2018-10,Hampshire Constabulary,Hampshire Constabulary,-1.40,50.91,"
              "On or near Z,E01017136,Southampton 023A,Robbery,Under investigation,\n")
SOUTHEND_FILES = 16  # 3 boundaries + 4 tables + naptan 158, 150, 910 + rail + 5 police months


def _feature_collection(code_field: str, code: str) -> str:
    ring = [[0.70, 51.53], [0.71, 51.53], [0.71, 51.54], [0.70, 51.53]]
    feature = {"type": "Feature", "properties": {code_field: code},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def make_mirror(root: Path) -> Path:
    """A tiny mirror-shaped tree for Southend and Southampton, police 2018-10..2019-02."""
    def put(rel: str, text: str) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    for code in ("E06000033", "E06000045"):
        put(LAYOUT["lsoa11"].format(code=code), _feature_collection("LSOA11CD", "E01015814"))
        put(LAYOUT["msoa11"].format(code=code), _feature_collection("MSOA11CD", "E02003279"))
        put(LAYOUT["ward"].format(code=code), _feature_collection("WD25CD", "E05002212"))
    put(LAYOUT["population"], "lsoa11_code,usual_residents\nE01015814,1500\n")
    put(LAYOUT["imd"], "lsoa11_code,IMD_decile,IMD_rank\nE01015814,3,9000\n")
    put(LAYOUT["imd_indicators"], "lsoa11_code,x\nE01015814,1\n")
    put(LAYOUT["centroids"], "LSOACD,latitude,longitude,lsoa11cd\nE01015814,51.5,0.7,E01015814\n")
    for n in ("150", "158", "159", "190", "198", "910"):
        put(LAYOUT["naptan"].format(naptan=n), f"ATCOCode,CommonName\n{n}00001,Stop\n")
    put(LAYOUT["rail"], "stationName,lat,long,crsCode\nSouthend Central,51.537,0.711,SOC\n")
    for month in ("2018-10", "2018-11", "2018-12", "2019-01", "2019-02"):
        essex = ESSEX_ROWS.replace("2018-10", month).replace("a1", f"a1{month}").replace(
            "b2", f"b2{month}")
        put(LAYOUT["police"].format(month=month, force="essex"), POLICE_HEADER + essex)
        put(LAYOUT["police"].format(month=month, force="hampshire"),
            POLICE_HEADER + HANTS_ROWS.replace("2018-10", month).replace("h1", f"h1{month}"))
    return root


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return make_mirror(tmp_path / "mirror")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


@pytest.fixture
def serve() -> Iterator:
    """Serve a directory over a real HTTP server on 127.0.0.1; yields a starter."""
    servers = []

    def start(root: Path) -> tuple[str, list[str]]:
        handler = functools.partial(_Quiet, directory=str(root))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.requests = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server.requests  # type: ignore[attr-defined]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_check_areas_rejects_unknown_and_empty():
    assert check_areas(["e06000033", "E06000033", "E07000076"]) == ("E06000033", "E07000076")
    with pytest.raises(ValidationError, match=r"unknown local authority code\(s\) E09000001.*"
                                              r"E06000033 Southend-on-Sea"):
        check_areas(["E06000033", "E09000001"])
    with pytest.raises(ValidationError, match="no local authority code"):
        check_areas([])


def test_district_needs_its_county_files_and_national_rail():
    files = needed_files(["E07000076"], police_months={"essex": ["2018-10"]})
    assert files == [
        "boundaries/lsoa11/E10000012.geojson", "boundaries/msoa11/E10000012.geojson",
        "boundaries/ward/E10000012.geojson", "population/census2011_lsoa11_population.csv",
        "imd/imd2019_england_lsoa11.csv", "imd/imd2019_england_lsoa11_indicators.csv",
        "centroids/lsoa11_population_weighted_centroids.csv", "naptan/150Stops.csv",
        "naptan/158Stops.csv", "naptan/159Stops.csv", "naptan/910Stops.csv",
        "rail/stations.csv", "police_uk/2018-10-essex-street.csv",
    ]
    # Essex county and one of its districts share one set of files
    both = needed_files(["E10000012", "E07000076"], police_months={"essex": ["2018-10"]})
    assert both == files


def test_official_urls_and_injected_bases():
    urls = official_urls()
    assert urls["naptan"].format(naptan="158") == (
        "https://naptan.api.dft.gov.uk/v1/access-nodes?dataFormat=csv&atcoAreaCodes=158")
    assert urls["police"].format(archive="2019-02", month="2018-10", force="essex") == (
        "https://data.police.uk/data/archive/2019-02.zip#2018-10/2018-10-essex-street.csv")
    local = official_urls({"ons": "http://127.0.0.1:9/"})
    assert local["lsoa11"].startswith("http://127.0.0.1:9/LSOA_Dec_2011_")
    with pytest.raises(ValidationError, match="unknown publisher"):
        official_urls({"nope": "http://x"})


def test_sync_from_mirror_copies_and_writes_manifest(mini, tmp_path):
    data = tmp_path / "data"
    result = sync(["E06000033"], data_dir=data, mirror=mini)
    assert len(result.files) == SOUTHEND_FILES
    assert result.count("copied") == SOUTHEND_FILES
    manifest = read_manifest(data)
    assert manifest["areas"] == ["E06000033"]
    assert sorted(manifest["files"]) == sorted(f.path for f in result.files)
    rail = manifest["files"]["rail/stations.csv"]
    assert rail["licence"] == ODBL and "ODbL" in rail["attribution"]
    lsoa = manifest["files"]["boundaries/lsoa11/E06000033.geojson"]
    src = mini / "boundaries/lsoa11/E06000033.geojson"
    assert lsoa == {
        "source": str(src.resolve()), "licence": OGL, "attribution": OGL_ATTRIBUTION,
        "sha256": sha(src), "bytes": src.stat().st_size,
        "obtained": dt.date.today().isoformat(), "areas": ["E06000033"],
    }
    for rel in manifest["files"]:
        copied = data / rel
        assert not copied.is_symlink() and copied.read_bytes() == (mini / rel).read_bytes()
    assert not (data / "police_uk/2018-10-hampshire-street.csv").exists()


def test_police_rows_are_all_accounted_for(mini, tmp_path):
    result = sync(["E06000033"], data_dir=tmp_path / "data", mirror=mini)
    # 5 Essex months x 4 rows: per month 2 accepted, 1 no location, 1 duplicate Crime ID
    assert result.police["files"] == 5
    assert result.police["rows_read"] == 20
    assert result.police["rows_accepted"] == 10
    assert result.police["rows_rejected"] == 10
    reasons = result.police["reject_reasons"]
    assert reasons == {
        "duplicate Crime ID": 5,
        "no location: Longitude and Latitude are blank (a police.uk 'No Location' row)": 5,
    }
    assert result.police["rows_by_file"]["2018-12-essex-street.csv"] == {
        "accepted": 2, "rejected": 2}
    summary = result.summary()
    assert summary["police"]["rows_read"] == 20 and summary["files"] == SOUTHEND_FILES


def test_second_sync_skips_same_checksum_and_repairs_changed_or_linked(mini, tmp_path):
    data = tmp_path / "data"
    sync(["E06000033"], data_dir=data, mirror=mini, months=["2018-10"])
    imd = data / LAYOUT["imd"]
    imd.write_text("edited\n")
    rail = data / LAYOUT["rail"]
    rail.unlink()
    rail.symlink_to(mini / LAYOUT["rail"])
    again = sync(["E06000033"], data_dir=data, mirror=mini, months=["2018-10"])
    actions = {f.path: f.action for f in again.files}
    assert actions.pop(LAYOUT["imd"]) == "copied"
    assert actions.pop(LAYOUT["rail"]) == "copied"
    assert set(actions.values()) == {"unchanged"}
    assert imd.read_bytes() == (mini / LAYOUT["imd"]).read_bytes()
    assert not rail.is_symlink()


def test_second_area_adds_to_manifest(mini, tmp_path):
    data = tmp_path / "data"
    sync(["E06000033"], data_dir=data, mirror=mini, months=["2018-10"])
    second = sync(["E06000045"], data_dir=data, mirror=mini, months=["2018-10"])
    manifest = read_manifest(data)
    assert manifest["areas"] == ["E06000033", "E06000045"]
    assert manifest["files"][LAYOUT["population"]]["areas"] == ["E06000033", "E06000045"]
    assert manifest["files"]["boundaries/lsoa11/E06000033.geojson"]["areas"] == ["E06000033"]
    assert "police_uk/2018-10-hampshire-street.csv" in manifest["files"]
    assert "police_uk/2018-10-essex-street.csv" in manifest["files"]
    assert second.police["rows_read"] == 1 and second.police["rows_accepted"] == 1
    # population, imd, indicators, centroids, naptan 910, rail
    assert second.count("unchanged") == 6


def test_mirror_missing_file_names_it(mini, tmp_path):
    (mini / LAYOUT["centroids"]).unlink()
    with pytest.raises(MissingDataError, match="has no centroids/lsoa11_population_weighted"):
        sync(["E06000033"], data_dir=tmp_path / "data", mirror=mini)


def test_months_filter_and_validation(mini, tmp_path):
    result = sync(["E06000033"], data_dir=tmp_path / "d", mirror=mini,
                  months=["2019-01", "2018-12"])
    assert [f.path for f in result.files if f.path.startswith("police_uk")] == [
        "police_uk/2018-12-essex-street.csv", "police_uk/2019-01-essex-street.csv"]
    with pytest.raises(ValidationError, match="YYYY-MM"):
        sync(["E06000033"], data_dir=tmp_path / "d", mirror=mini, months=["Oct 2018"])
    with pytest.raises(MissingDataError, match=r"no police\.uk file for force 'essex'"):
        sync(["E06000033"], data_dir=tmp_path / "d", mirror=mini, months=["2017-01"])


def test_download_from_local_http_server_end_to_end(mini, tmp_path, serve):
    base, requests = serve(mini)
    data = tmp_path / "data"
    result = sync(["E06000033"], data_dir=data, urls=mirror_urls(base))
    assert result.source == "download"
    assert result.count("downloaded") == SOUTHEND_FILES
    manifest = read_manifest(data)
    entry = manifest["files"]["naptan/158Stops.csv"]
    assert entry["source"] == f"{base}/naptan/158Stops.csv"
    assert entry["sha256"] == sha(mini / "naptan/158Stops.csv")
    for f in result.files:
        assert (data / f.path).read_bytes() == (mini / f.path).read_bytes()
    assert result.police["rows_read"] == 20 and result.police["rows_accepted"] == 10
    served = len(requests)
    again = sync(["E06000033"], data_dir=data, urls=mirror_urls(base))
    assert again.count("unchanged") == SOUTHEND_FILES and len(requests) == served


def test_download_police_months_from_a_zip_archive(mini, tmp_path, serve):
    site = tmp_path / "site"
    (site / "archive").mkdir(parents=True)
    with zipfile.ZipFile(site / "archive" / "2018-11.zip", "w") as zf:
        for month in ("2018-10", "2018-11"):
            name = f"{month}-essex-street.csv"
            zf.write(mini / "police_uk" / name, f"{month}/{name}")
    mirror_base, _ = serve(mini)
    police_base, requests = serve(site)
    urls = {**mirror_urls(mirror_base), "police": official_urls({"police": police_base})["police"]}
    result = sync(["E06000033"], data_dir=tmp_path / "data", urls=urls,
                  months=["2018-10", "2018-11"])
    assert requests == ["/archive/2018-11.zip"]  # fetched once for both months
    got = tmp_path / "data" / "police_uk" / "2018-11-essex-street.csv"
    assert got.read_bytes() == (mini / "police_uk" / "2018-11-essex-street.csv").read_bytes()
    assert result.police["rows_read"] == 8
    assert read_manifest(tmp_path / "data")["files"]["police_uk/2018-10-essex-street.csv"][
        "source"] == f"{police_base}/archive/2018-11.zip#2018-10/2018-10-essex-street.csv"


def test_offline_without_mirror_says_what_to_do(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(MissingDataError) as err:
        sync(["E06000033"], data_dir=tmp_path / "d", urls=mirror_urls(f"http://127.0.0.1:{port}"),
             timeout=5)
    message = str(err.value)
    assert "GEOINTEL_MIRROR" in message and "--mirror" in message and "connect" in message
    assert f"127.0.0.1:{port}/boundaries/lsoa11/E06000033.geojson" in message


def test_download_of_an_html_page_is_refused(tmp_path, serve, mini):
    (mini / LAYOUT["lsoa11"].format(code="E06000033")).write_text(
        "<!DOCTYPE html><html><body>Service moved</body></html>")
    base, _ = serve(mini)
    with pytest.raises(DataFileError, match=r"sent an HTML page instead of E06000033\.geojson"):
        sync(["E06000033"], data_dir=tmp_path / "d", urls=mirror_urls(base))
    assert not (tmp_path / "d" / "boundaries/lsoa11/E06000033.geojson").exists()


def test_corrupt_manifest_is_reported(mini, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text("{not json")
    with pytest.raises(DataFileError, match=r"manifest\.json: is not a valid manifest"):
        sync(["E06000033"], data_dir=data, mirror=mini)
