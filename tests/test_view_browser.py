"""``graphmem view`` in a real browser: headless Chromium (the Debian package)
driven by Selenium searches, expands, finds paths and moves the time slider;
each step's screenshot must not be blank and the graph must hold the number
of nodes the API says (counted with cytoscape's own ``cy.nodes()``).

Skipped, saying why, where Chromium, its driver or Selenium is missing
(``.ci/run`` installs them: ``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import io
import shutil
import time
from pathlib import Path

import pytest

import graphmem
from graphmem.view import make_server
from graphmem.view.api import LIMITS
from tests.view_helpers import HUB_NEIGHBOURS, Client, build_store, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
Image = pytest.importorskip("PIL.Image", reason="pillow is not installed (pip install -e '.[dev]')")
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip

pytestmark = pytest.mark.engine
EXPAND = 25  # what the page asks for per click (app.js)
SHOTS = Path(__file__).parent.parent / ".pytest-view-shots"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    from tests.conftest import ENGINE

    path = tmp_path_factory.mktemp("viewb") / "store"
    build_store(path, ENGINE)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        with running(make_server(path, engine=ENGINE, embedder=graphmem.HashEmbedder())) as server:
            driver.get(server.url)  # the browser spends the token; the API client below reads beside it
            _settle(driver)
            api = Client(server.origin)
            api.cookie = f"graphmem_view={server.session}"
            yield driver, api
    finally:
        driver.quit()


def _settle(driver, *, since: int = 0) -> None:
    """Wait until the page has finished more requests than ``since`` and has none in flight."""
    deadline = time.monotonic() + 60  # a wait, not a timed assertion: the machine may be loaded
    while time.monotonic() < deadline:
        busy, done = driver.execute_script("return [document.body.dataset.busy, Number(document.body.dataset.done)]")
        if busy == "0" and done > since:
            return
        time.sleep(0.05)
    raise TimeoutError("the page did not settle")


def _done(driver) -> int:
    return int(driver.execute_script("return Number(document.body.dataset.done)"))


def _nodes(driver) -> set[str]:
    return set(driver.execute_script("return window.graphmemView.cy.nodes().map(n => n.id())"))


def _tap(driver, name: str, *, asks: bool = True) -> None:
    """A click on a node, through cytoscape's own event (a canvas has no DOM element per node);
    ``asks``: the click sends requests (then wait for their answers)."""
    since = _done(driver)
    driver.execute_script("window.graphmemView.cy.getElementById(arguments[0]).emit('tap')", name)
    if asks:
        _settle(driver, since=since)


def _shot(driver, name: str) -> None:
    """Save a screenshot; it must show a drawn graph (many colours), not a blank page."""
    png = driver.get_screenshot_as_png()
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / f"{name}.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    graph = image.crop((0, 60, 900, 620))  # the graph's area, left of the side panel
    colours = graph.getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20, f"{name}: the graph area is blank ({len(colours)} colours)"
    assert graph.getextrema() != ((255, 255), (255, 255), (255, 255))


def test_search_centres_then_a_click_expands(page):
    driver, api = page
    box = driver.find_element("id", "search")
    box.clear()
    since = _done(driver)
    box.send_keys("bob\n")
    _settle(driver, since=since + 2)  # the search, then the centre's neighbours and details
    _, bob = api.api("neighbors", name="Bob", limit=EXPAND)
    assert _nodes(driver) == {"Bob"} | {n["name"] for n in bob["neighbors"]}
    assert driver.find_element("css selector", "#panel h2").text == "Bob"
    _shot(driver, "search_bob")
    _tap(driver, "Ada")
    _, ada = api.api("neighbors", name="Ada", limit=EXPAND)
    expected = {"Bob", "Ada"} | {n["name"] for n in ada["neighbors"]}
    assert ada["total"] == HUB_NEIGHBOURS + 2 and len(expected) == EXPAND + 1
    assert _nodes(driver) == expected
    assert driver.execute_script("return window.graphmemView.cy.nodes().length") == len(expected)
    _shot(driver, "expand_ada")


def test_the_panel_shows_a_hubs_relations_a_page_at_a_time(page):
    driver, _ = page
    since = _done(driver)
    driver.execute_script("window.graphmemView.centre('Ada')")
    _settle(driver, since=since + 1)  # the neighbours, then the details
    assert driver.find_element("css selector", "#panel h2").text == "Ada"
    assert len(driver.find_elements("css selector", "#relation-history li")) == LIMITS.relations
    since = _done(driver)
    driver.find_element("id", "older-relations").click()
    _settle(driver, since=since)
    rows = [li.text for li in driver.find_elements("css selector", "#relation-history li")]
    assert len(rows) == len(set(rows)) == HUB_NEIGHBOURS + 3  # the older page appended, nothing twice
    assert not driver.find_elements("id", "older-relations")  # none older left
    _shot(driver, "relations_ada")


def test_path_mode_highlights_the_shortest_paths(page):
    driver, api = page
    since = _done(driver)  # before the call: a fast answer may land before a later read
    driver.execute_script("window.graphmemView.centre('fan01')")
    _settle(driver, since=since)
    driver.find_element("id", "path-button").click()
    assert driver.find_element("id", "path-button").get_attribute("aria-pressed") == "true"
    _tap(driver, "fan01", asks=False)  # the first pick only marks it
    since = _done(driver)  # before the call: a fast answer may land before a later read
    driver.execute_script("window.graphmemView.expand('Ada')")
    _settle(driver, since=since)
    _tap(driver, "fan02")
    _, found = api.api("paths", source="fan01", target="fan02")
    highlighted = set(driver.execute_script("return window.graphmemView.cy.nodes('.path').map(n => n.id())"))
    assert highlighted == {n for p in found["paths"] for n in p["nodes"]} == {"fan01", "Ada", "fan02"}
    assert driver.execute_script("return window.graphmemView.cy.edges('.path').length") == 2
    _shot(driver, "path")
    driver.find_element("id", "path-button").click()


def test_the_time_slider_shows_the_graph_as_it_was(page):
    driver, api = page
    assert driver.find_element("id", "time").is_displayed()
    since = _done(driver)  # before the call: a fast answer may land before a later read
    driver.execute_script("window.graphmemView.centre('Acme')")
    _settle(driver, since=since)
    assert "Ada" in _nodes(driver)
    since = _done(driver)
    # The slider's left end is the store's earliest time (2010): Ada worked at OldCo, not yet at Acme.
    driver.execute_script("const s = document.getElementById('time-slider'); s.value = 0;"
                          "s.dispatchEvent(new Event('change'))")  # fmt: skip
    _settle(driver, since=since + 1)
    as_of = driver.execute_script("return window.graphmemView.state.asOf")
    assert as_of.startswith("2010-01-01")
    assert _nodes(driver) == {"Acme"}  # no one worked there yet
    assert driver.find_element("id", "time-label").text.startswith("2010-01-01")
    since = _done(driver)  # before the call: a fast answer may land before a later read
    driver.execute_script("window.graphmemView.centre('Ada')")
    _settle(driver, since=since)
    _, then = api.api("neighbors", name="Ada", limit=EXPAND, as_of=as_of)
    assert _nodes(driver) == {"Ada"} | {n["name"] for n in then["neighbors"]}
    assert "OldCo" in _nodes(driver) and "Acme" not in _nodes(driver)
    _shot(driver, "time_2010")
    since = _done(driver)
    driver.find_element("id", "time-now").click()
    _settle(driver, since=since + 1)
    assert "Acme" in _nodes(driver) and "OldCo" not in _nodes(driver)


def test_the_html_export_works_offline_from_disk(page, tmp_path):
    from graphmem.view import write_html
    from tests.conftest import ENGINE

    driver, api = page
    path = tmp_path / "store"
    build_store(path, ENGINE)
    with graphmem.open(path, engine=ENGINE, embedder=None, read_only=True) as mem:
        out = write_html(mem, tmp_path / "ada.html", "Ada", hops=1)
    driver.get(out.as_uri())
    _settle(driver)
    _, ada = api.api("neighbors", name="Ada", limit=EXPAND)
    assert _nodes(driver) == {"Ada"} | {n["name"] for n in ada["neighbors"]}  # the same first 25, from the file
    assert driver.find_element("css selector", "#panel h2").text == "Ada"
    _shot(driver, "html_export")
