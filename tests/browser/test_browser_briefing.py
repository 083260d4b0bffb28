"""Briefings in the real app: a planner builds the partnership board pack, downloads the PDF
(A4 landscape, marked on every page) and publishes it; a viewer then sees and downloads it,
with no contact data anywhere."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

pytestmark = [pytest.mark.browser, pytest.mark.sample, pytest.mark.slow]

#: A4 landscape in PDF points (297 x 210 mm).
A4_LANDSCAPE = (841.9, 595.3)
#: Building a pack the first time takes about half a minute on the sample.
BUILD_TIMEOUT_MS = 240_000


def _check_pack(pdf: bytes, marking: str, contact_data) -> int:
    """Assert every page is A4 landscape and marked ``marking`` top and bottom; pages."""
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    for number, page in enumerate(reader.pages, start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (width, height) == pytest.approx(A4_LANDSCAPE, abs=1.0), number
        lines = [line.strip() for line in page.extract_text().splitlines()]
        assert lines.count(marking) >= 2, (number, lines[:3], lines[-3:])
        assert not contact_data.search(page.extract_text()), number
    return len(reader.pages)


def test_board_pack_is_built_downloaded_and_published_for_viewers(app, more_tabs,
                                                                  contact_data):
    app.sign_in("planner")
    app.open_nav("briefing")
    assert app.exceptions() == []
    app.page.get_by_text("No briefing has been published yet.").wait_for()
    app.page.get_by_role("button", name="Build pack").click()
    # a long build shows how far it is (st.progress fed by board_pack's progress callback)
    bar = app.page.locator('[data-testid="stProgress"]')
    bar.first.wait_for(timeout=BUILD_TIMEOUT_MS)
    app.page.get_by_text(re.compile(r"^Building the board pack: ")).first.wait_for(
        timeout=BUILD_TIMEOUT_MS)
    app.screenshot("planner_briefing_progress")
    app.page.get_by_role("heading", name="Download").wait_for(timeout=BUILD_TIMEOUT_MS)
    assert bar.count() == 0  # the bars are gone once the pack is built
    app.wait_idle()
    assert app.exceptions() == []
    caption = app.page.get_by_text("PDF pages · areas").inner_text()
    assert caption.startswith("OFFICIAL ·")
    figures = app.metrics()
    assert figures, "the pack shows no key figures"
    app.screenshot("planner_briefing_board_pack")

    pdf = app.download("PDF pack (A4 landscape)").read_bytes()
    pages = _check_pack(pdf, "OFFICIAL", contact_data)
    assert f"{pages} PDF pages" in caption

    app.page.get_by_role("button", name="Publish for viewers").click()
    app.page.get_by_text("Published as").wait_for()
    app.wait_idle()

    viewer = more_tabs()
    viewer.sign_in("viewer")
    assert viewer.page.locator("h1").first.inner_text().strip() == "Briefings"
    assert viewer.page.get_by_role("button", name="Build pack").count() == 0
    viewer.page.get_by_text("· OFFICIAL").first.wait_for()
    assert viewer.exceptions() == []
    assert not contact_data.search(viewer.main_text())
    viewer.screenshot("viewer_published_briefing")
    published = viewer.download("PDF pack (A4 landscape)").read_bytes()
    assert _check_pack(published, "OFFICIAL", contact_data) == pages
