"""IMD reader: the reduced mirror table, File-7-shaped and IoD2025-shaped CSVs, broken input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from geointel.errors import DataFileError
from geointel.io.imd import read_imd

RANK = "Rank (where 1 is most deprived)"
DECILE = "Decile (where 1 is most deprived 10% of LSOAs)"
#: The seven domains as File 7 names them, with the score wording it uses.
FILE7_DOMAINS = {
    "Index of Multiple Deprivation (IMD)": "Score",
    "Income": "Score (rate)",
    "Employment": "Score (rate)",
    "Education, Skills and Training": "Score",
    "Health Deprivation and Disability": "Score",
    "Crime": "Score",
    "Barriers to Housing and Services": "Score",
    "Living Environment": "Score",
}
EXTRA_TRIPLES = [
    ("Income Deprivation Affecting Children Index (IDACI)", "Score (rate)"),
    ("Income Deprivation Affecting Older People (IDAOPI)", "Score (rate)"),
    *[(f"{s} Sub-domain", "Score") for s in (
        "Children and Young People", "Adult Skills", "Geographical Barriers",
        "Wider Barriers", "Indoors", "Outdoors")],
]
POPULATIONS = [
    "Total population: mid 2015 (excluding prisoners)",
    "Dependent Children aged 0-15: mid 2015 (excluding prisoners)",
    "Population aged 16-59: mid 2015 (excluding prisoners)",
    "Older population aged 60 and over: mid 2015 (excluding prisoners)",
    # the real file has a trailing space in this header
    "Working age population 18-59/64: for use with Employment Deprivation Domain "
    "(excluding prisoners) ",
]
REDUCED_NAMES = ["IMD", "Income", "Employment", "Education", "Health", "Crime",
                 "Housing_and_Access", "Environment"]
OUT = ["imd", "income", "employment", "education", "health", "crime", "housing", "environment"]


def file7_header(lsoa: str = "2011", lad: str = "2019") -> list[str]:
    header = [f"LSOA code ({lsoa})", f"LSOA name ({lsoa})",
              f"Local Authority District code ({lad})", f"Local Authority District name ({lad})"]
    for name, score in [*FILE7_DOMAINS.items(), *EXTRA_TRIPLES]:
        header += [f"{name} {score}", f"{name} {RANK}", f"{name} {DECILE}"]
    return header + POPULATIONS


def to_csv(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def reduced_rows(mirror: Path) -> dict[str, dict[str, str]]:
    """The reduced table's real rows, by code, read with the csv module."""
    with (mirror / "imd" / "imd2019_england_lsoa11.csv").open(newline="") as fh:
        return {r["lsoa11_code"]: r for r in csv.DictReader(fh)}


def file7_row(code: str, real: dict[str, str], k: int) -> list[object]:
    """A File 7 row: real ranks/deciles from the reduced table; scores and populations are
    made up (10k + domain index) so each column's destination can be checked."""
    row: list[object] = [code, f"Area {code}", "E09000001", "City of London"]
    for i, name in enumerate(REDUCED_NAMES):
        row += [f"{k}.{i}", real[f"{name}_rank"], real[f"{name}_decile"]]
    for _ in EXTRA_TRIPLES:  # values no real domain has, to catch a wrong match
        row += ["0.999", "1", "1"]
    return [*row, 1000 + k, 200, 600, 200, 550.5]


# --- the reduced table of the mirror -----------------------------------------------------

@pytest.mark.mirror
def test_reduced_mirror_table(mirror, reduced_rows):
    path = mirror / "imd" / "imd2019_england_lsoa11.csv"
    result = read_imd(path)
    assert result.rows_read == len(reduced_rows) == 32_844
    assert (result.rows_accepted, result.rows_rejected) == (32_844, 0)
    data = result.data
    expected_columns = ["lsoa_code", "vintage"] + [
        f"{d}_{m}" for d in OUT for m in ("score", "rank", "decile")] + ["_file", "_line"]
    assert list(data.columns) == expected_columns
    row = data.set_index("lsoa_code").loc["E01000001"]
    assert row["vintage"] == "2011" and row["_line"] == 2
    assert (row["imd_rank"], row["imd_decile"]) == (29199, 9)
    assert (row["housing_rank"], row["housing_decile"]) == (7319, 3)
    assert (row["environment_rank"], row["environment_decile"]) == (7789, 3)
    assert (row["education_rank"], row["income_rank"]) == (32842, 32831)
    assert data[[f"{d}_score" for d in OUT]].isna().all().all()
    assert data["imd_rank"].dtype == np.int64 and data["imd_decile"].between(1, 10).all()
    # ranks run 1..32,844; the reduced table has some tied ranks (26 for the IMD itself)
    assert (data["imd_rank"].min(), data["imd_rank"].max()) == (1, 32_844)
    ties = len(reduced_rows) - len({r["IMD_rank"] for r in reduced_rows.values()})
    assert int(data["imd_rank"].duplicated().sum()) == ties == 26


# --- File 7 (IoD2019) and IoD2025 --------------------------------------------------------

@pytest.mark.mirror
def test_file7_shape_with_real_header_names(tmp_path, reduced_rows):
    codes = ["E01000001", "E01015871", "E01021497"]
    rows = [file7_header()] + [file7_row(c, reduced_rows[c], k) for k, c in enumerate(codes)]
    path = tmp_path / "File_7_-_All_IoD2019_Scores__Ranks__Deciles_and_Population_Denominators.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    assert len(file7_header()) == 57
    result = read_imd(path)
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (3, 3, 0)
    data = result.data.set_index("lsoa_code")
    assert list(data.index) == codes
    assert set(data["vintage"]) == {"2011"}
    for k, code in enumerate(codes):
        real = reduced_rows[code]
        for i, (out, name) in enumerate(zip(OUT, REDUCED_NAMES, strict=True)):
            assert data.loc[code, f"{out}_rank"] == int(real[f"{name}_rank"]), (code, out)
            assert data.loc[code, f"{out}_decile"] == int(real[f"{name}_decile"]), (code, out)
            assert data.loc[code, f"{out}_score"] == pytest.approx(float(f"{k}.{i}"))
        assert data.loc[code, "population_mid2015"] == 1000 + k
    assert data["population_mid2015"].dtype == np.int64


def test_iod2025_shape_on_2021_lsoas(tmp_path):
    header = [*file7_header(lsoa="2021", lad="2024")[:28], "Total population: mid 2022"]
    values = ["E01035000", "Area", "E06000033", "Southend-on-Sea"]
    for i in range(8):
        values += [f"{i}.5", str(100 + i), str(i + 1)]
    path = tmp_path / "iod2025.csv"
    path.write_text(to_csv([header, [*values, "1523"]]), encoding="utf-8")
    result = read_imd(path)
    row = result.data.iloc[0]
    assert row["vintage"] == "2021" and row["lsoa_code"] == "E01035000"
    assert [row[f"{d}_rank"] for d in OUT] == list(range(100, 108))
    assert [row[f"{d}_decile"] for d in OUT] == list(range(1, 9))
    assert row["environment_score"] == 7.5 and row["population_mid2022"] == 1523


def test_reduced_shape_with_2021_codes_and_messy_headers(tmp_path):
    header = [" LSOA21_Code "] + [f"{n.upper()}_DECILE" for n in REDUCED_NAMES] + [
        f"{n}  rank" for n in REDUCED_NAMES]
    path = tmp_path / "imd25.csv"
    path.write_text(to_csv([header, ["E01035000", *range(1, 9), *range(11, 19)]]))
    row = read_imd(path).data.iloc[0]
    assert row["vintage"] == "2021"
    assert (row["imd_decile"], row["environment_decile"], row["crime_rank"]) == (1, 8, 16)


# --- rejects ------------------------------------------------------------------------------

def reduced_text(*rows: list[object]) -> str:
    header = ["lsoa11_code"] + [f"{n}_decile" for n in REDUCED_NAMES] + [
        f"{n}_rank" for n in REDUCED_NAMES]
    return to_csv([header, *[list(r) for r in rows]])


GOOD = ["E01000001", *[5] * 8, *[100] * 8]


def change(column: int, value: object, code: str = "E01000002") -> list[object]:
    row = [code, *GOOD[1:]]
    row[column] = value
    return row


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (change(0, "W01000001"), "'lsoa11_code' is not an English LSOA code (E01 and 6 digits)"),
        (change(0, "E0100001"), "'lsoa11_code' is not an English LSOA code (E01 and 6 digits)"),
        (change(1, "0"), "'IMD_decile' is not a whole number from 1 to 10"),
        (change(1, "11"), "'IMD_decile' is not a whole number from 1 to 10"),
        (change(3, "5.5"), "'Employment_decile' is not a whole number from 1 to 10"),
        (change(8, "x"), "'Environment_decile' is not a whole number from 1 to 10"),
        (change(9, "0"), "'IMD_rank' is not a positive whole number"),
        (change(13, "-4"), "'Health_rank' is not a positive whole number"),
        (change(15, "1.5"), "'Housing_and_Access_rank' is not a positive whole number"),
        (change(16, ""), "'Environment_rank' is not a positive whole number"),
        (change(0, "E01000001"), "LSOA code already on line 2"),
        # found by fuzzing: 9 * 40 crashed the int64 cast (OverflowError), inf was a rank
        (change(9, "9" * 40), "'IMD_rank' is more than 1,000,000,000 (a typo or a shifted "
                              "column?)"),
        (change(10, "1e12"), "'Income_rank' is more than 1,000,000,000 (a typo or a "
                             "shifted column?)"),
        (change(11, "inf"), "'Employment_rank' is not a positive whole number"),
    ],
)
def test_row_rules(tmp_path, bad, reason):
    path = tmp_path / "imd.csv"
    path.write_text(reduced_text(GOOD, bad, change(0, "E01000003")))
    result = read_imd(path)
    assert (result.rows_read, result.rows_accepted) == (3, 2)
    assert result.rejects.values.tolist() == [[str(path), 3, reason]]
    assert result.data["lsoa_code"].tolist() == ["E01000001", "E01000003"]


def test_whole_numbers_written_as_decimals_are_accepted(tmp_path):
    path = tmp_path / "imd.csv"
    path.write_text(reduced_text(change(1, "7.0", "E01000001")))
    assert read_imd(path).data.loc[0, "imd_decile"] == 7


def test_file7_bad_score_and_population(tmp_path):
    real = {f"{n}_{m}": "5" for n in REDUCED_NAMES for m in ("rank", "decile")}
    good = file7_row("E01000001", real, 1)
    bad_score = file7_row("E01000002", real, 2)
    bad_score[4] = "n/a"
    bad_pop = file7_row("E01000003", real, 3)
    bad_pop[-5] = "12.5"
    blank_score = file7_row("E01000004", real, 4)
    blank_score[7] = ""
    inf_score = file7_row("E01000005", real, 5)
    inf_score[4] = "inf"
    huge_pop = file7_row("E01000006", real, 6)
    huge_pop[-5] = "1e40"
    path = tmp_path / "f7.csv"
    path.write_text(to_csv([file7_header(), good, bad_score, bad_pop, blank_score, inf_score,
                            huge_pop]))
    result = read_imd(path)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "'Index of Multiple Deprivation (IMD) Score' is not a number"],
        [4, "'Total population: mid 2015 (excluding prisoners)' is not a whole number of "
            "people"],
        [6, "'Index of Multiple Deprivation (IMD) Score' is not a number"],
        [7, "'Total population: mid 2015 (excluding prisoners)' is more than 1,000,000,000 "
            "(a typo or a shifted column?)"],
    ]
    assert result.data["lsoa_code"].tolist() == ["E01000001", "E01000004"]
    assert np.isnan(result.data.loc[1, "income_score"])


# --- unusable files -----------------------------------------------------------------------

def test_truncated_last_line(tmp_path):
    text = reduced_text(GOOD, change(0, "E01000002"))
    path = tmp_path / "imd.csv"
    path.write_text(text[: text.rindex(",")] + "\n")  # the last field cut off
    result = read_imd(path)
    assert (result.rows_read, result.rows_accepted) == (2, 1)
    assert result.rejects["reason"].tolist() == [
        "has 16 fields, expected 17 (truncated or shifted row)"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (reduced_text(GOOD).replace("Crime_decile", "Crime_dec").encode(),
         "has no column for the crime decile"),
        (reduced_text(GOOD).replace("lsoa11_code", "code").encode(), "has no LSOA code column"),
        (reduced_text(GOOD).replace("lsoa11_code", "LSOA code").encode(),
         "does not say whether it holds 2011 or 2021"),
        (reduced_text(GOOD).replace("IMD_rank", "IMD_rank,imd rank").encode() + b"\n",
         "several columns that look like the imd rank"),
        ("lsoa11_code,IMD_decile\nE01000001,caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
        (b"", "is empty"),
    ],
    ids=["missing-column", "no-code", "no-vintage", "ambiguous", "latin-1", "empty"],
)
def test_unusable_files(tmp_path, content, problem):
    path = tmp_path / "imd.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=problem) as info:
        read_imd(path)
    assert info.value.path == str(path)
