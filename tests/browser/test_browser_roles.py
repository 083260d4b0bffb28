"""Each role reaches exactly its pages in the real app: by the navigation and by typed URLs.

Every page a role may open is opened from the sidebar and must show its heading and no
exception box; every page it may not open is typed as a URL and must not run. The viewer must
see no contact data (raw numbers of the sample or their pseudonyms) anywhere it can go.
"""

from __future__ import annotations

import pytest

from geointel.auth import CAPABILITIES, ROLES, pages_for

pytestmark = [pytest.mark.browser, pytest.mark.sample]

#: page -> the heading (st.title) it shows
HEADINGS = {
    "overview": "Overview",
    "harm": "Harm map",
    "access": "Access and naloxone",
    "siting": "Clinic siting",
    "lines": "County lines",
    "targeting": "Targeting",
    "briefing": "Briefings",
    "data": "Data",
}
ALL_PAGES = [c.removeprefix("page:") for c in CAPABILITIES if c.startswith("page:")]
#: role -> the pages it may not open
FORBIDDEN = {role: [page for page in ALL_PAGES if page not in pages_for(role)] for role in ROLES}


def test_headings_cover_every_page():
    assert sorted(HEADINGS) == sorted(ALL_PAGES)


def _listed(app, role: str) -> list[str]:
    """Pages the sidebar lists (the default page's link is the bare URL).

    Streamlit shows no navigation for a single page; then the page listed is the one shown.
    """
    paths = app.nav_paths()
    if not paths:
        shown = app.page.locator("h1").first.inner_text().strip()
        return [page for page, heading in HEADINGS.items() if heading == shown]
    return [path or pages_for(role)[0] for path in paths]


def test_sign_in_is_required(app):
    app.goto("lines")
    assert app.page.get_by_role("button", name="Sign in").is_visible()
    assert app.page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert not app.page.get_by_role("heading", name=HEADINGS["lines"]).count()


def test_wrong_password_opens_nothing(app):
    account = app.accounts["analyst"]
    app.goto()
    app.page.get_by_label("Username").fill(account.username)
    app.page.get_by_label("Password", exact=True).fill(account.password + "x")
    app.page.get_by_role("button", name="Sign in").click()
    app.page.get_by_text("Wrong user name or password.").wait_for()
    app.wait_idle()
    assert app.page.locator('[data-testid="stSidebarNav"]').count() == 0
    app.screenshot("sign_in_wrong_password")


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_role_opens_every_page_it_may_and_no_other(app, role, contact_data):
    app.sign_in(role)
    assert _listed(app, role) == pages_for(role)
    assert f"({role})" in app.page.locator('[data-testid="stSidebar"]').inner_text()
    for page in pages_for(role):
        if page != pages_for(role)[0]:
            app.open_nav(page)
        heading = app.page.locator("h1").first
        assert heading.inner_text().strip() == HEADINGS[page], page
        assert app.exceptions() == [], page
        app.screenshot(f"{role}_{page}")
        if role == "viewer":
            assert not contact_data.search(app.main_text()), page


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_forbidden_pages_by_url_do_not_run(app, more_tabs, role, contact_data):
    """Each page the role may not open, typed as the URL (a fresh load, then sign-in), lands on
    the role's first page. One tab per forbidden page; they sign in side by side."""
    default = pages_for(role)[0]
    tabs = [app] + [more_tabs() for _ in FORBIDDEN[role][1:]]
    for tab, page in zip(tabs, FORBIDDEN[role], strict=True):
        tab.submit_sign_in(role, path=page)
    for tab, page in zip(tabs, FORBIDDEN[role], strict=True):
        tab.await_sign_in(role)
        assert page not in _listed(tab, role), page
        headings = [h.strip() for h in tab.page.locator("h1").all_inner_texts()]
        assert HEADINGS[page] not in headings, page
        assert HEADINGS[default] in headings, page
        assert tab.exceptions() == [], page
        if role == "viewer":
            assert not contact_data.search(tab.main_text()), page
    app.screenshot(f"{role}_typed_url_{FORBIDDEN[role][0]}")
