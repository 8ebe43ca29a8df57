"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real
`tracker serve` subprocess on a free loopback port with a real seeded SQLite file.

Nothing is mocked: the page loads its vendored files from the server, talks to it over the
websocket, and reports appended from another process (`python -m tracker append`) must reach
it. Every page is checked to send no request beyond 127.0.0.1 and to log no error to the
browser console.

Needs /usr/bin/chromium (`apt-get install chromium`) and `pip install playwright`; NEVER
`playwright install` (it would download a browser). The module is skipped, saying which, when
either is missing; .ci/run installs both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import free_port, ms, seconds
from tracker.seeds import seed_files

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (the browser tests use Debian's chromium)",
                allow_module_level=True)
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:
    pytest.skip("playwright is missing: pip install playwright (never `playwright install`: it uses "
                "/usr/bin/chromium)", allow_module_level=True)

WEB = Path(__file__).resolve().parents[1] / "tracker" / "web"
ISIS = "Islamic State in Iraq and Syria"
LOOPBACK = "127.0.0.1"
TOKEN = "secret-write-token"  # the server wants 8 characters at least
LIVE_WITHIN_MS = 3000  # an append from another process is on the page within this


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("TRACKER_DB", "TRACKER_TOKEN", "TRACKER_DEBUG")}


def tracker(*args: str, expect_status: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True,
                          timeout=seconds(60), env=_env())
    assert done.returncode == expect_status, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def get(url: str) -> tuple[int, bytes, str]:
    try:
        with urllib.request.urlopen(url, timeout=seconds(5)) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers.get("Content-Type", "")


class Server:
    def __init__(self, db: Path, token: str | None = None, port: int | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        args = [sys.executable, "-m", "tracker", "serve", "--db", str(db), "--host", LOOPBACK, "--port", str(self.port)]
        if token:
            args += ["--token", token]
        self.log = open(db.with_suffix(".log"), "a+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=_env())
        deadline = time.monotonic() + seconds(20)
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"tracker serve exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                status, body, _ = get(self.url + "/healthz")
                if status == 200 and json.loads(body)["status"] == "ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"tracker serve did not answer /healthz within {seconds(20)} s:\n{self.logs()}")
            time.sleep(0.1)

    def head(self) -> int:
        return json.loads(get(self.url + "/healthz")[1])["position"]

    def logs(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(seconds(10))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(seconds(5))
        self.log.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> Path:
    """One seeded store per module; each server gets a copy."""
    db = tmp_path_factory.mktemp("seed") / "seed.db"
    # the report as first shipped (33 events, which these tests count; its corrections: test_seeds)
    tracker("--db", str(db), "append", str(seed_files()[0]))
    return db


@pytest.fixture
def serve(seeded, tmp_path):
    servers = []

    def start(token: str | None = None, again: Server | None = None) -> Server:
        if again is not None:  # the same store on the same port, after a stop
            server = Server(again.db, token, port=again.port)
            servers.append(server)
            return server
        db = tmp_path / f"tracker{len(servers)}.db"
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(seeded) + suffix)
            if src.exists():
                shutil.copy(src, str(db) + suffix)
        server = Server(db, token)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield b
        b.close()


# What Chromium logs itself while a test's server is down or stopping: failed websocket attempts, and a
# read over HTTP refused, reset or cut as the server goes (which of them depends on the moment).
SERVER_DOWN = re.compile(r"WebSocket connection to .* failed|net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET"
                         r"|SOCKET_NOT_CONNECTED|EMPTY_RESPONSE|CONNECTION_CLOSED)")


class Watch:
    """What a page did: every request, and anything it logged as an error."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []  # errors a test expects, e.g. while its server is down
        self.responses: dict[str, int] = {}


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser, watch):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
    context.set_default_timeout(ms(10_000))

    def route(r):
        url = r.request.url
        watch.requests.append(url)
        host = urlsplit(url).hostname
        if url.startswith("data:") or host == LOOPBACK:
            r.continue_()
        else:
            watch.outside.append(url)
            r.abort()

    context.route("**/*", route)
    pg = context.new_page()
    pg.on("console", lambda m: watch.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: watch.errors.append(f"page error: {e}"))
    pg.on("response", lambda r: watch.responses.__setitem__(r.url, r.status))
    yield pg
    context.close()
    assert not watch.outside, f"requests left {LOOPBACK}: {watch.outside}"
    errors = [e for e in watch.errors if not any(p.search(e) for p in watch.allowed)]
    assert not errors, "the page logged errors:\n" + "\n".join(errors)


def open_dashboard(page: Page, server: Server) -> None:
    page.goto(server.url + "/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    expect(page.locator('#map path.place-marker[data-place="mosul"]')).to_have_count(1)
    expect(page.locator("#feed li.feed-item").first).to_be_visible()


def marker(page: Page, place: str):
    return page.locator(f'#map path.place-marker[data-place="{place}"]')


def append_file(server: Server, tmp_path: Path, events: list[dict]) -> None:
    path = tmp_path / f"append-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(events))
    tracker("append", str(path), "--db", str(server.db))


# ---------------------------------------------------------------- files and network


def test_every_static_file_is_served_and_no_request_leaves_loopback(serve, page, watch):
    server = serve()
    open_dashboard(page, server)
    expect(page.locator("#map")).to_have_attribute("data-borders", re.compile(r"^\d{2,}$"))  # borders drawn
    html = (WEB / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    for module in WEB.glob("*.js"):  # ES module imports and fetched data
        referenced |= {f"/static/{m}" for m in re.findall(r'from "\./([^"]+)"', module.read_text())}
        referenced |= set(re.findall(r'"(/static/[^"]+)"', module.read_text()))
    css = (WEB / "vendor" / "leaflet" / "leaflet.css").read_text()
    referenced |= {f"/static/vendor/leaflet/{u}" for u in re.findall(r"url\(([^)]+\.png)\)", css)}
    assert "/static/app.js" in referenced and "/static/vendor/leaflet/leaflet.js" in referenced
    assert "/static/vendor/world-atlas/countries-50m.json" in referenced
    for path in sorted(referenced):
        status, body, kind = get(server.url + path)
        assert status == 200 and body, f"{path}: HTTP {status}"
        if path.endswith(".js"):
            assert "javascript" in kind, f"{path} served as {kind}: browsers refuse modules of other types"
    loaded = {urlsplit(u).path: s for u, s in watch.responses.items() if urlsplit(u).path.startswith("/static/")}
    assert {"/static/app.js", "/static/map.js", "/static/vendor/leaflet/leaflet.js",
            "/static/vendor/world-atlas/countries-50m.json"} <= set(loaded)
    assert all(s == 200 for s in loaded.values()), loaded
    assert all(urlsplit(u).hostname == LOOPBACK for u in watch.requests if not u.startswith("data:"))
    for licence in ("leaflet/LICENSE", "topojson-client/LICENSE", "world-atlas/LICENSE", "README.md"):
        assert (WEB / "vendor" / licence).is_file(), licence


# ---------------------------------------------------------------- the seeded state


def test_map_colours_places_by_controller_with_a_legend(serve, page):
    server = serve()
    open_dashboard(page, server)
    mosul = marker(page, "mosul")
    expect(mosul).to_have_attribute("data-controller", "isis")
    expect(mosul).to_have_attribute("aria-label",
                                    re.compile(f"Mosul: held by {ISIS}, captured between 1 and 30 June 2014"))
    legend = page.locator("#legend")
    expect(legend).to_contain_text(ISIS)
    expect(legend).to_contain_text("No controller recorded")
    expect(legend).to_contain_text("Contested")
    isis_colour = legend.locator('.legend-row[data-actor="isis"] .swatch').get_attribute("data-colour")
    grey = legend.locator('.legend-row[data-actor=""] .swatch').get_attribute("data-colour")
    assert isis_colour and grey and isis_colour != grey
    assert mosul.get_attribute("fill") == isis_colour
    for place in ("tikrit", "trabil_crossing", "shaar_gas_field"):
        assert marker(page, place).get_attribute("fill") == isis_colour, place
    for place in ("baghdad", "baghdad_airport", "homs", "deir_ez_zor", "deir_ez_zor_airport"):
        expect(marker(page, place)).to_have_attribute("data-controller", "")
        assert marker(page, place).get_attribute("fill") == grey, place
    # contested: a dashed ring around the besieged airport, and only there
    expect(page.locator("#map path.contested-ring")).to_have_count(1)
    expect(page.locator('#map path.contested-ring[data-place="deir_ez_zor_airport"]')).to_have_attribute(
        "stroke-dasharray", re.compile(r"\d"))
    # places are plotted (countries are drawn as borders, not points), borders are there
    expect(page.locator("#map path.place-marker")).to_have_count(9)
    assert int(page.locator("#map").get_attribute("data-borders")) > 100
    row = page.locator('#places-table tr[data-place="mosul"]')
    expect(row).to_contain_text(ISIS)
    expect(row).to_contain_text("June 2014")


def test_clicking_mosul_shows_its_history_and_sources(serve, page):
    server = serve()
    open_dashboard(page, server)
    marker(page, "mosul").click()
    detail = page.locator("#place-detail")
    expect(detail.locator("h2")).to_have_text("Mosul")
    body = detail.locator("#place-detail-body")
    expect(body).to_contain_text("History of control")
    # the history comes from the server's `history` op, loaded when the place is selected
    history = body.locator("ol.history li")
    expect(history).to_have_count(1)
    expect(history).to_have_attribute("data-position", "17")
    expect(history).to_have_attribute("data-status", "settled")
    expect(history).to_contain_text(f"{ISIS} captured Mosul from Iraqi Security Forces")
    expect(history.locator("time")).to_have_text("June 2014")
    expect(history).to_contain_text("World Socialist Web Site")
    expect(history).to_contain_text("US-backed Iraqi regime fails to retake Tikrit")
    expect(history.locator("blockquote")).to_contain_text("its capture of the northern city of Mosul")
    expect(history).to_contain_text("recorded by local:")
    expect(body.locator(".controller-now")).to_contain_text(f"Held by {ISIS}, captured between 1 and 30 June 2014")
    expect(body.locator(".taken-from")).to_have_text("Taken from Iraqi Security Forces")
    expect(body.locator("button.history-more")).to_have_count(0)  # one page holds it all
    expect(body).to_contain_text("Reports about Mosul")
    expect(body).to_contain_text("Christians displaced from Mosul")
    # keyboard users reach the same panel; the history shown is the newly selected place's
    marker(page, "tikrit").focus()
    page.keyboard.press("Enter")
    expect(detail.locator("h2")).to_have_text("Tikrit")
    expect(body.locator("ol.history")).to_have_attribute("data-place", "tikrit")
    tikrit = body.locator("ol.history li")
    expect(tikrit.first).to_contain_text(f"{ISIS} repelled Iraqi Security Forces at Tikrit")  # newest first
    expect(tikrit.last).to_contain_text(f"{ISIS} captured Tikrit")
    # a date before the capture: the history as of then holds nothing yet
    page.locator("#as-of").fill("2014-05-31")
    expect(page.locator("#map")).to_have_attribute("data-as-of", "2014-05-31")
    expect(body.locator("ol.history li")).to_have_count(0)
    expect(body).to_contain_text("No change of control recorded.")


def test_tables_show_counts_and_unknowns(serve, page):
    server = serve()
    open_dashboard(page, server)
    humvee = page.locator('#arsenal-table tr[data-actor="isis"][data-asset="Humvee"]')
    expect(humvee).to_contain_text("1,500")
    expect(humvee).to_contain_text("vehicles")
    unknown = page.locator("#arsenal-table tr[data-asset=\"the city's military and commercial resources\"]")
    expect(unknown.locator("td.num").first).to_have_text("unknown")
    expect(page.locator('#resources-table tr[data-resource="oil"]')).to_contain_text("≥ 60%")
    airport = page.locator('#deployments-table tr[data-actor="united_states"][data-place="baghdad_airport"]')
    expect(airport.locator("td.personnel")).to_have_text("200")
    expect(airport.locator("td.equipment")).to_contain_text("AH-64 Apache helicopter gunship: 6")
    expect(airport.locator("td.equipment")).to_contain_text("RQ-7 Shadow surveillance drone: unknown")
    iraq = page.locator('#deployments-table tr[data-actor="united_states"][data-place="iraq"]')
    expect(iraq.locator("td.personnel")).to_have_text("unknown")  # not 0
    expect(iraq.locator("td.units")).to_have_text("Special Forces team: 6")
    # the feed: newest first, dates with their precision, sources
    first = page.locator("#feed li.feed-item").first
    expect(first).to_have_attribute("data-position", "33")
    expect(first.locator("time")).to_have_text("23 July 2014")  # the server's `when`
    expect(page.locator('#feed li[data-position="17"] time')).to_have_text("June 2014")
    expect(page.locator('#feed li[data-position="31"] time')).to_have_text("week of 2014-07-14")
    expect(page.locator('#feed li[data-position="31"]')).to_contain_text("World Socialist Web Site")


def test_the_date_slider_and_date_input_replay_the_past_and_live_returns(serve, page):
    server = serve()
    open_dashboard(page, server)
    # the day before the first window starts to the day the last one ends (the Deir ez-Zor airport
    # assault, "the week of 21 July": until 27 July it is pending)
    expect(page.locator("#slider-range")).to_have_text("2014-05-31 – 2014-07-27")
    slider = page.locator("#date-slider")
    slider.focus()
    page.keyboard.press("Home")  # the slider's first day: before any dated event
    expect(page.locator("#map")).to_have_attribute("data-as-of", "2014-05-31")
    expect(page.locator("#as-of")).to_have_value("2014-05-31")
    expect(page.locator("#live")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#map path.place-marker[data-controller=isis]")).to_have_count(0)
    expect(page.locator('#map path.place-marker[data-controller=""]')).to_have_count(9)
    expect(page.locator("#legend .legend-row[data-actor=isis]")).to_have_count(0)
    expect(page.locator("#arsenal-table tbody")).to_contain_text("No materiel recorded")
    expect(page.locator("#deployments-table tbody")).to_contain_text("No deployments recorded")
    expect(page.locator('#feed li[data-position="17"]')).to_have_class(re.compile("after-view"))

    page.locator("#live").click()
    expect(page.locator("#map")).to_have_attribute("data-as-of", "live")
    expect(marker(page, "mosul")).to_have_attribute("data-controller", "isis")
    expect(page.locator("#map path.place-marker[data-controller=isis]")).to_have_count(4)
    expect(page.locator('#arsenal-table tr[data-asset="Humvee"]')).to_contain_text("1,500")

    page.locator("#as-of").fill("2014-07-01")  # after June, before the Shaar gas field fell
    expect(page.locator("#map")).to_have_attribute("data-as-of", "2014-07-01")
    expect(marker(page, "mosul")).to_have_attribute("data-controller", "isis")
    expect(marker(page, "shaar_gas_field")).to_have_attribute("data-controller", "")
    expect(page.locator("#slider-range")).to_have_text("2014-05-31 – 2014-07-27")
    assert page.locator("#date-slider").input_value() == "31"  # 2014-05-31 + 31 days

    page.locator("#live").click()
    expect(marker(page, "shaar_gas_field")).to_have_attribute("data-controller", "isis")

    # "known at": the seeded article was published on 2014-07-23, so the day before, nothing was known
    page.locator("#known-at").fill("2014-07-22")
    expect(page.locator("#view-label")).to_contain_text("as known at the end of 2014-07-22")
    expect(page.locator("#map path.place-marker[data-controller=isis]")).to_have_count(0)
    page.locator("#known-at-clear").click()
    expect(page.locator("#map path.place-marker[data-controller=isis]")).to_have_count(4)


def test_changes_since_a_date_are_ringed_on_the_map_marked_in_the_tables_and_listed(serve, page):
    server = serve()
    open_dashboard(page, server)
    page.locator("#as-of").fill("2014-07-31")
    expect(page.locator("#map")).to_have_attribute("data-as-of", "2014-07-31")
    expect(page.locator("#changes")).to_be_hidden()
    page.locator("#changes-since").fill("2014-05-31")
    changes = page.locator("#changes")
    expect(changes).to_have_attribute("data-state", "ready")
    expect(changes).to_have_attribute("data-from", "2014-05-31")
    expect(changes).to_have_attribute("data-to", "2014-07-31")
    mosul = changes.locator('li.change[data-place="mosul"]')
    expect(mosul).to_have_attribute("data-changed-hands", "true")
    expect(mosul.locator(".what")).to_have_text(f"Mosul: no controller recorded → {ISIS}")
    expect(mosul.locator("ul.facts")).to_contain_text(f"June 2014: {ISIS} captured Mosul")
    expect(page.locator("#changes-summary")).to_contain_text("4 places changed hands")
    expect(changes.locator('li.change[data-asset="Humvee"]')).to_contain_text(f"{ISIS}: Humvee none → 1,500")
    # on the map: a ring on each place that changed, none on the others; in the tables: the rows
    expect(marker(page, "mosul")).to_have_attribute("data-changed", "true")
    expect(marker(page, "baghdad")).to_have_attribute("data-changed", "false")
    expect(page.locator('#map path.changed-ring[data-place="mosul"]')).to_have_count(1)
    listed = changes.locator("li.change[data-changed-hands]").count()  # the places listed, each ringed
    expect(page.locator("#map")).to_have_attribute("data-changed", str(listed))
    expect(page.locator("#legend")).to_contain_text("Changed since 2014-05-31")
    expect(page.locator('#places-table tr[data-place="mosul"]')).to_have_class(re.compile(r"\bchanged\b"))
    expect(page.locator('#places-table tr[data-place="baghdad"]')).not_to_have_class(re.compile(r"\bchanged\b"))
    expect(page.locator('#arsenal-table tr[data-asset="Humvee"]')).to_have_class(re.compile(r"\bchanged\b"))
    # the date shown moves: asked again, for the new date (June: Mosul pending, not yet changed hands)
    page.locator("#as-of").fill("2014-06-15")
    expect(changes).to_have_attribute("data-to", "2014-06-15")
    expect(mosul).to_have_attribute("data-changed-hands", "false")
    expect(mosul.locator(".what")).to_contain_text("possibly captured")
    # a name in the list opens the place; off clears every mark
    mosul.locator("button[data-place=mosul]").click()
    expect(page.locator("#place-detail h2")).to_have_text("Mosul")
    page.locator("#changes-off").click()
    expect(changes).to_be_hidden()
    expect(page.locator("#map path.changed-ring")).to_have_count(0)
    expect(page.locator("#places-table tr.changed")).to_have_count(0)


def test_the_situation_timeline_shows_holdings_over_time_and_a_click_shows_that_date(serve, page):
    server = serve()
    open_dashboard(page, server)
    chart = page.locator("#situation")
    expect(chart).to_have_attribute("data-state", "ready")
    expect(chart).to_have_attribute("data-from", "2014-05-31")
    expect(chart).to_have_attribute("data-to", "2014-07-27")
    held = json.loads(chart.get_attribute("data-held"))
    assert held[ISIS] > 0, held  # the most places ISIS held on any day sampled
    assert int(chart.get_attribute("data-ranges")) > 0  # the month- and week-dated facts, as ranges
    expect(page.locator(f'#situation-legend [data-actor-name="{ISIS}"]')).to_have_count(1)
    expect(page.locator("#situation-summary")).to_contain_text(f"{ISIS}: up to {held[ISIS]} places")
    canvas = page.locator("#situation-canvas")
    expect(canvas).to_have_attribute("data-cursor", "2014-07-27")  # live: the last day
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.5, "y": 40})
    picked = canvas.get_attribute("data-picked")
    assert "2014-06-01" < picked < "2014-07-15", picked
    expect(page.locator("#map")).to_have_attribute("data-as-of", picked)
    expect(page.locator("#as-of")).to_have_value(picked)
    expect(canvas).to_have_attribute("data-cursor", picked)
    slider = page.locator("#date-slider")
    slider.focus()
    page.keyboard.press("Home")  # the slider moves the cursor
    expect(canvas).to_have_attribute("data-cursor", "2014-05-31")
    # a move of the date draws the cursor over the chart's base layer, not the chart again;
    # a new size draws the base again, and the chart is on the canvas either way
    draws = canvas.get_attribute("data-base-draws")
    page.keyboard.press("End")
    expect(canvas).to_have_attribute("data-cursor", "2014-07-27")
    assert canvas.get_attribute("data-base-draws") == draws
    inked = """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height / 2).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"""
    assert canvas.evaluate(inked) > 1000  # the step lines of the places held, from the base layer
    page.set_viewport_size({"width": 1100, "height": 1000})
    expect(canvas).not_to_have_attribute("data-base-draws", draws)
    assert canvas.evaluate(inked) > 1000


def test_the_directory_lists_and_searches_actors_and_places(serve, page):
    server = serve()
    open_dashboard(page, server)
    page.locator("#directory summary").click()
    actors = page.locator("#directory-actors")
    expect(actors.locator('li[data-actor="isis"]')).to_contain_text(f"{ISIS}")
    expect(actors.locator('li[data-actor="isis"]')).to_contain_text("holds 4 places")
    page.locator("#directory-search").fill("MOS")
    expect(page.locator("#directory-places li[data-place]")).to_have_count(1)
    expect(actors.locator("li[data-actor]")).to_have_count(0)
    expect(page.locator("#directory-count")).to_have_text("0 actors, 1 place match")
    page.locator('#directory-places button[data-place="mosul"]').click()
    expect(page.locator("#place-detail h2")).to_have_text("Mosul")


# ---------------------------------------------------------------- live updates


def test_an_append_from_another_process_reaches_the_page(serve, page, tmp_path):
    server = serve()
    open_dashboard(page, server)
    expect(page.locator('#map path.contested-ring[data-place="deir_ez_zor_airport"]')).to_have_count(1)
    append_file(server, tmp_path, [{
        "type": "CityCaptured", "occurred_on": "2014-07-25", "place": "Deir ez-Zor military airport",
        "captured_by": "ISIL", "captured_from": "syrian_government",
        "sources": [{"publisher": "Example Wire", "url": "https://example.org/wire/deir-ez-zor"}],
    }])
    first = page.locator("#feed li.feed-item").first
    expect(first).to_have_attribute("data-position", "34", timeout=LIVE_WITHIN_MS)
    expect(first).to_contain_text(f"{ISIS} captured Deir ez-Zor military airport from Syrian government forces")
    expect(first.locator("a")).to_have_attribute("href", "https://example.org/wire/deir-ez-zor")
    expect(marker(page, "deir_ez_zor_airport")).to_have_attribute("data-controller", "isis", timeout=LIVE_WITHIN_MS)
    expect(page.locator("#map path.contested-ring")).to_have_count(0, timeout=LIVE_WITHIN_MS)
    expect(page.locator("#slider-range")).to_have_text("2014-05-31 – 2014-07-27")  # within the last window
    positions = page.locator("#feed li.feed-item").evaluate_all("items => items.map(i => i.dataset.position)")
    assert len(positions) == len(set(positions)) == 18  # 17 seeded facts (registrations hidden) + 1, no doubles
    assert positions == sorted(positions, key=int, reverse=True)
    # a new actor and a new place: a new marker, a colour of its own, a legend entry, the pickers
    source = [{"publisher": "Example Wire"}]
    append_file(server, tmp_path, [
        {"type": "ActorRegistered", "actor": "peshmerga", "name": "Kurdish Peshmerga", "kind": "regional forces",
         "sources": source},
        {"type": "PlaceRegistered", "place": "kirkuk", "name": "Kirkuk", "kind": "city", "country": "Iraq",
         "lat": 35.47, "lon": 44.39, "sources": source},
        {"type": "CityCaptured", "occurred_on": "2014-06-12", "place": "kirkuk", "captured_by": "peshmerga",
         "captured_from": "iraqi_forces", "sources": source},
    ])
    kirkuk = marker(page, "kirkuk")
    expect(kirkuk).to_have_attribute("data-controller", "peshmerga", timeout=LIVE_WITHIN_MS)
    swatch = page.locator('#legend .legend-row[data-actor="peshmerga"] .swatch')
    expect(swatch).to_have_count(1)
    colour = swatch.get_attribute("data-colour")
    assert kirkuk.get_attribute("fill") == colour != marker(page, "mosul").get_attribute("fill")
    expect(page.locator("#feed li.feed-item").first).to_contain_text("Kurdish Peshmerga captured Kirkuk")
    expect(page.locator('#place-options option[value="kirkuk"]')).to_have_count(1)
    expect(page.locator('#actor-options option[value="peshmerga"]')).to_have_count(1)


def _fill_capture(page: Page, place: str, by: str, date: str = "2014-06-12", url: str | None = None) -> None:
    page.locator("#f-type").select_option("CityCaptured")
    page.locator("#f-occurred_on").fill(date)
    page.locator("#f-place").fill(place)
    page.locator("#f-captured_by").fill(by)
    page.locator("#f-source-publisher").fill("Example Wire")
    if url:
        page.locator("#f-source-url").fill(url)


def test_the_form_appends_and_shows_field_errors_without_losing_input(serve, page):
    server = serve()
    open_dashboard(page, server)
    form = page.locator("#report-form")
    # an unknown place: refused, the error next to the place field, the input kept
    _fill_capture(page, "Atlantis", "ISIL")
    page.locator("#f-source-quote").fill("Militants took the city.")
    form.locator("#report-submit").click()
    error = page.locator("#f-place-error")
    expect(error).to_contain_text("unknown place 'Atlantis'")
    expect(page.locator("#f-place")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-place")).to_have_value("Atlantis")
    expect(page.locator("#f-captured_by")).to_have_value("ISIL")
    expect(page.locator("#f-source-quote")).to_have_value("Militants took the city.")
    expect(page.locator("#f-occurred_on")).to_have_value("2014-06-12")
    assert server.head() == 33
    # fixed: by name and alias, as the schema allows
    page.locator("#f-place").fill("Baghdad")
    expect(page.locator("#f-place")).not_to_have_attribute("aria-invalid", "true")
    page.locator("#f-source-url").fill("https://example.org/wire/baghdad")
    form.locator("#report-submit").click()
    expect(page.locator("#form-status")).to_have_text("Added at position 34.")
    first = page.locator("#feed li.feed-item").first
    expect(first).to_contain_text(f"{ISIS} captured Baghdad")
    expect(first.locator("time")).to_have_text("12 June 2014")
    expect(marker(page, "baghdad")).to_have_attribute("data-controller", "isis")
    # a deployment with equipment rows, week precision, an unknown count
    page.locator("#f-type").select_option("ForcesDeployed")
    page.locator("#f-precision").select_option("week")
    page.locator("#f-actor").fill("united_states")
    page.locator("#f-place").fill("Baghdad")
    page.locator("#f-personnel").fill("300")
    page.locator("#f-equipment-0-name").fill("MQ-1 Predator")
    page.get_by_role("button", name="Add equipment row").click()
    page.locator("#f-equipment-1-name").fill("AH-64 Apache")
    page.locator("#f-equipment-1-count").fill("4")
    form.locator("#report-submit").click()
    expect(page.locator("#form-status")).to_have_text("Added at position 35.")
    row = page.locator('#deployments-table tr[data-actor="united_states"][data-place="baghdad"]')
    expect(row.locator("td.personnel")).to_have_text("300")
    expect(row.locator("td.equipment")).to_have_text("AH-64 Apache: 4, MQ-1 Predator: unknown")
    expect(page.locator("#feed li.feed-item").first.locator("time")).to_have_text("week of 2014-06-09")
    # a schema error on a nested field lands next to that field
    page.locator("#f-type").select_option("CityCaptured")
    _fill_capture(page, "Mosul", "isis", url="ftp://example.org/x")
    form.locator("#report-submit").click()
    expect(page.locator("#f-source-url-error")).to_contain_text("not an http(s) URL")
    expect(page.locator("#f-source-url")).to_have_value("ftp://example.org/x")
    assert server.head() == 35


def test_the_form_asks_for_the_write_token_refuses_a_wrong_one_and_keeps_the_right_one(serve, page):
    server = serve(token=TOKEN)
    open_dashboard(page, server)
    _fill_capture(page, "Homs", "syrian_government")
    page.locator("#report-submit").click()
    box = page.locator("#token-box")
    expect(box).to_be_visible()
    expect(page.locator("#f-token")).to_be_focused()
    page.locator("#f-token").fill("wrong")
    page.locator("#token-submit").click()
    expect(page.locator("#token-error")).to_contain_text("refused")
    expect(box).to_be_visible()
    assert server.head() == 33
    page.locator("#f-token").fill(TOKEN)
    page.keyboard.press("Enter")
    expect(page.locator("#form-status")).to_have_text("Added at position 34.")
    expect(box).to_be_hidden()
    expect(marker(page, "homs")).to_have_attribute("data-controller", "syrian_government")
    assert page.evaluate("sessionStorage.getItem('tracker.writeToken')") == TOKEN
    # a new connection (a reload) authenticates with the kept token: not asked again
    page.reload()
    open_dashboard(page, server)
    _fill_capture(page, "Deir ez-Zor", "isis", date="2014-07-20")
    page.locator("#report-submit").click()
    expect(page.locator("#form-status")).to_have_text("Added at position 35.")
    expect(page.locator("#token-box")).to_be_hidden()
    assert server.head() == 35


def test_the_page_reconnects_and_resumes_without_missing_or_doubling(serve, page, watch, tmp_path):
    server = serve()
    open_dashboard(page, server)
    # while the server is down, the browser reports the failed websocket attempts itself (and a read
    # over HTTP on its way as the server stops, before the page knows the connection is lost)
    watch.allowed.append(SERVER_DOWN)
    server.stop()
    expect(page.locator("#connection")).to_have_attribute("data-state", re.compile("closed|connecting"))
    expect(page.locator("#connection-text")).to_contain_text(re.compile("Disconnected|Connecting"))
    append_file(server, tmp_path, [{
        "type": "CityCaptured", "occurred_on": "2014-07-24", "place": "homs", "captured_by": "isis",
        "sources": [{"publisher": "Example Wire"}],
    }])
    serve(again=server)
    # the page retries with backoff, up to 15 s (x1.25 jitter) between attempts (connection.js): wait
    # longer than the longest gap, so that at least one attempt finds the server up
    expect(page.locator("#connection")).to_have_attribute("data-state", "open", timeout=ms(30_000))
    expect(page.locator('#feed li[data-position="34"]')).to_have_count(1)
    expect(marker(page, "homs")).to_have_attribute("data-controller", "isis")
    positions = page.locator("#feed li.feed-item").evaluate_all("items => items.map(i => i.dataset.position)")
    assert len(positions) == len(set(positions)) == 18


# ---------------------------------------------------------------- honest time: pending facts, the three clocks


def _append_corrections(server: Server) -> None:
    """The seed's corrections: windowed facts, some pending in mid-July (Tikrit's repulse)."""
    corrections = next(p for p in sorted(seed_files()) if p.name.endswith("_corrections.yaml"))
    tracker("--db", str(server.db), "append", str(corrections))


def test_pending_facts_are_hatched_on_the_map_and_said_in_the_tables_and_the_panel(serve, page):
    server = serve()
    _append_corrections(server)
    open_dashboard(page, server)
    page.locator("#as-of").fill("2014-07-16")
    expect(page.locator("#map")).to_have_attribute("data-as-of", "2014-07-16")
    expect(page.locator("#clocks")).to_have_attribute("data-as-of", "2014-07-16")
    # Tikrit: held by ISIS since June; the Iraqi forces' assault was repelled some day between 15
    # and 20 July, pending on the 16th: a hatched cover over its marker, the phrase in its label
    tikrit = marker(page, "tikrit")
    expect(tikrit).to_have_attribute("data-controller", "isis")
    expect(tikrit).to_have_attribute("data-pending", "1")
    hatch = page.locator('#map path.pending-hatch[data-place="tikrit"]')
    expect(hatch).to_have_count(1)
    assert hatch.get_attribute("fill") == "url(#pending-hatch)"
    assert hatch.get_attribute("stroke-dasharray")
    assert page.locator("svg pattern#pending-hatch").count() == 1
    repulse = f"possibly {ISIS} repelled Iraqi Security Forces between 15 and 20 July 2014"
    expect(tikrit).to_have_attribute("aria-label", re.compile(re.escape(repulse)))
    expect(page.locator('#places-table tr[data-place="tikrit"] .pending')).to_have_text(repulse)
    expect(page.locator("#legend")).to_contain_text("Pending")
    # a place with pending facts only: no controller recorded, its possible capture said apart
    trebil = marker(page, "trabil_crossing")
    expect(trebil).to_have_attribute("data-controller", "")
    expect(page.locator('#map path.pending-hatch[data-place="trabil_crossing"]')).to_have_count(1)
    capture = f"possibly captured by {ISIS} between 1 June and 23 July 2014"
    row = page.locator('#places-table tr[data-place="trabil_crossing"]')
    expect(row.locator("td.controller")).to_contain_text("no controller recorded")
    expect(row.locator(".pending")).to_have_text(capture)
    # no hatch where nothing is pending
    expect(page.locator('#map path.pending-hatch[data-place="mosul"]')).to_have_count(0)
    # the panel: held by, the pending facts, and "no controller recorded" for Trebil
    tikrit.click()
    body = page.locator("#place-detail-body")
    expect(body.locator(".controller-now")).to_contain_text(
        f"Held by {ISIS}, captured between 1 and 30 June 2014 as of 2014-07-16")
    expect(body.locator("li.pending")).to_have_text([repulse])
    # its history at that date: the capture settled, the repulse pending (its window holds the date)
    expect(body.locator('ol.history li[data-status="pending"]')).to_contain_text("repelled Iraqi Security Forces")
    expect(body.locator('ol.history li[data-status="pending"] .badge')).to_have_text("pending at this date")
    page.locator('#places-table button[data-place="trabil_crossing"]').click()
    expect(page.locator("#place-detail h2")).to_have_text("Trebil border crossing")
    expect(body.locator(".controller-now")).to_have_text("No controller recorded as of 2014-07-16")
    expect(body.locator("li.pending")).to_have_text([capture])
    # the arsenal and deployments: the seizures and the airport deployment are pending only
    humvees = f"possibly between 1 June and 23 July 2014: {ISIS} seized 1,500 Humvee"
    expect(page.locator('#arsenal-table tr.pending-row[data-actor="isis"] .pending').first).to_contain_text(humvees)
    airport = page.locator('#deployments-table tr[data-actor="united_states"][data-place="baghdad_airport"]')
    expect(airport).to_have_class(re.compile("pending-row"))
    expect(airport.locator(".pending")).to_contain_text(
        "possibly between 1 June and 23 July 2014: United States deployed 200")
    # once the windows have closed, the facts are settled: no hatch, no pending line
    page.locator("#as-of").fill("2014-07-24")
    expect(page.locator('#map path.pending-hatch[data-place="tikrit"]')).to_have_count(0)
    expect(marker(page, "trabil_crossing")).to_have_attribute("data-controller", "isis")
    expect(page.locator('#deployments-table tr[data-actor="united_states"][data-place="baghdad_airport"] td.personnel')
           ).to_have_text("200")
    expect(page.locator('#arsenal-table tr[data-asset="Humvee"] td.date')).to_have_text(
        "between 1 June and 23 July 2014")


def test_known_at_before_a_report_hides_it_from_the_panel_and_the_feed(serve, page, tmp_path):
    server = serve()
    append_file(server, tmp_path, [{
        "type": "AttackCarriedOut", "occurred_on": "2014-07-24", "reported_on": "2014-07-25", "place": "mosul",
        "actor": "isis", "method": "car bomb", "killed": 7, "sources": [{"publisher": "Example Wire"}],
    }])
    open_dashboard(page, server)
    feed = page.locator("#feed")
    expect(feed.locator('li[data-position="34"]')).to_have_count(1)
    expect(page.locator("#feed-hidden")).to_be_hidden()
    marker(page, "mosul").click()
    body = page.locator("#place-detail-body")
    expect(body.locator('li[data-position="34"]')).to_have_count(1)
    expect(body).to_contain_text("Reports about Mosul (4)")

    page.locator("#known-at").fill("2014-07-24")  # the seed's article (23 July) is known, the attack is not
    expect(page.locator("#clocks")).to_have_attribute("data-known-at", re.compile("^2014-07-24T23:59:59"))
    expect(feed.locator('li[data-position="34"]')).to_have_count(0)
    expect(feed.locator('li[data-position="33"]')).to_have_count(1)
    expect(page.locator("#feed-hidden")).to_have_text("1 report not yet known at the end of 2014-07-24 is not listed.")
    expect(body.locator('li[data-position="34"]')).to_have_count(0)
    expect(body).to_contain_text("Reports about Mosul (3)")
    expect(body.locator(".hidden-note")).to_contain_text("not yet known at the end of 2014-07-24")

    page.locator("#known-at").fill("2014-07-22")  # before the article: nothing known, nothing listed
    expect(feed.locator("li.feed-item")).to_have_count(0)
    expect(body).to_contain_text("None known at this view's clocks.")
    expect(marker(page, "mosul")).to_have_attribute("data-controller", "")
    expect(page.locator("#places-table tr[data-place=mosul] td.controller")).to_have_text("no controller recorded")

    page.locator("#known-at-clear").click()
    expect(feed.locator('li[data-position="34"]')).to_have_count(1)
    expect(body.locator('li[data-position="34"]')).to_have_count(1)
    expect(page.locator("#feed-hidden")).to_be_hidden()


def test_the_recorded_at_clock_shows_the_log_as_it_stood(serve, page, tmp_path):
    server = serve()
    seeded_until = json.loads(get(server.url + "/api/events?after=32")[1])["events"][0]["recorded_at"]
    time.sleep(1.1)  # the append below is recorded at least a second after the seed
    append_file(server, tmp_path, [{
        "type": "CityCaptured", "occurred_on": "2014-07-20", "place": "homs", "captured_by": "isis",
        "sources": [{"publisher": "Example Wire"}],
    }])
    open_dashboard(page, server)
    expect(marker(page, "homs")).to_have_attribute("data-controller", "isis")
    expect(page.locator("#clocks")).to_contain_text("recorded at: now")
    # a second after the seed was recorded: the log as it stood then, before the capture of Homs
    moment = (datetime.fromisoformat(seeded_until) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    page.locator("#recorded-at").fill(moment)
    page.locator("#recorded-at").press("Enter")
    expect(marker(page, "homs")).to_have_attribute("data-controller", "")
    expect(page.locator("#clocks")).to_have_attribute("data-recorded-at", re.compile("^" + re.escape(moment)))
    expect(page.locator("#clocks")).to_contain_text("log position 33")
    expect(page.locator("#view-label")).to_contain_text(f"from the log as recorded by {moment} UTC")
    expect(page.locator('#feed li[data-position="34"]')).to_have_count(0)
    expect(page.locator('#feed li[data-position="33"]')).to_have_count(1)
    expect(page.locator("#feed-hidden")).to_contain_text("1 report not yet recorded by")
    # a day before anything was recorded: an empty log
    page.locator("#recorded-at").fill("2014-07-24")
    page.locator("#recorded-at").press("Enter")
    expect(page.locator("#clocks")).to_contain_text("log position 0")
    expect(page.locator("#feed li.feed-item")).to_have_count(0)
    page.locator("#recorded-at-clear").click()
    expect(marker(page, "homs")).to_have_attribute("data-controller", "isis")
    expect(page.locator("#clocks")).to_contain_text("recorded at: now")
    expect(page.locator('#feed li[data-position="34"]')).to_have_count(1)


def test_a_windowed_reported_fact_entered_through_the_form_is_stored_as_such(serve, page):
    server = serve()
    open_dashboard(page, server)
    page.locator("#f-type").select_option("CityCaptured")
    expect(page.locator("#f-occurred_from")).to_be_hidden()
    page.locator("#f-time-window").check()
    expect(page.locator("#f-occurred_on")).to_be_hidden()
    page.locator("#f-occurred_from").fill("2014-06-03")
    page.locator("#f-occurred_to").fill("2014-06-08")
    page.locator("#f-claim_status").select_option("reported")
    page.locator("#f-place").fill("Homs")
    page.locator("#f-captured_by").fill("ISIL")
    page.locator("#f-source-publisher").fill("Example Wire")
    page.locator("#report-submit").click()
    expect(page.locator("#form-status")).to_have_text("Added at position 34.")
    stored = json.loads(get(server.url + "/api/events?after=33")[1])["events"][0]
    event = stored["event"]
    assert (event["occurred_from"], event["occurred_to"], event["claim_status"]) == (
        "2014-06-03", "2014-06-08", "reported")
    assert "occurred_on" not in event and "precision" not in event
    assert stored["when"] == "between 3 and 8 June 2014"
    first = page.locator("#feed li.feed-item").first
    expect(first.locator("time")).to_have_text("between 3 and 8 June 2014")
    expect(first).to_contain_text(f"{ISIS} captured Homs (reportedly)")
    expect(marker(page, "homs")).to_have_attribute("data-controller", "isis")
    # half a window is refused by the form itself, next to the missing bound
    page.locator("#f-occurred_from").fill("2014-06-10")
    page.locator("#f-occurred_to").fill("")
    page.locator("#f-place").fill("Homs")
    page.locator("#f-captured_by").fill("syrian_government")
    page.locator("#report-submit").click()
    expect(page.locator("#f-occurred_to-error")).to_contain_text("required")
    assert server.head() == 34


def test_a_server_with_tokens_asks_the_dashboard_for_one_to_read(seeded, tmp_path, page, watch):
    """Once the store has a token, the page asks for one before it can show the state; a
    reader token shows it (and the page stays read-only for it)."""
    db = tmp_path / "tokens.db"
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(seeded) + suffix)
        if src.exists():
            shutil.copy(src, str(db) + suffix)
    token = tracker("--db", str(db), "tokens", "add", "newsroom", "--role", "reader").stdout.strip()
    server = Server(db)
    try:
        page.goto(server.url + "/")
        expect(page.locator("#token-box")).to_be_visible()
        expect(page.locator("#token-prompt")).to_contain_text("needs a token to show its state")
        expect(marker(page, "mosul")).to_have_count(0)
        page.fill("#f-token", "not-the-token")
        page.click("#token-submit")
        expect(page.locator("#token-error")).to_contain_text("refused")
        page.fill("#f-token", token)
        page.click("#token-submit")
        expect(page.locator("#token-box")).to_be_hidden()
        expect(marker(page, "mosul")).to_have_count(1)
        expect(page.locator("#feed li.feed-item").first).to_be_visible()
    finally:
        # the server stops before the page closes: on a busy machine the page may try to reconnect,
        # and a read over HTTP (the timeline's, as the log grew) may be on its way
        watch.allowed.append(SERVER_DOWN)
        server.stop()


# ---------------------------------------------------------------- built for big logs


def _places(n: int) -> list[dict]:
    """`n` towns on a grid over northern Iraq and Syria, far enough apart to click one."""
    return [{"type": "PlaceRegistered", "place": f"town{i:03d}", "name": f"Town {i}", "kind": "town", "country": "Iraq",
             "lat": round(31 + (i // 25) * 0.3, 4), "lon": round(38 + (i % 25) * 0.3, 4),
             "sources": [{"publisher": "Example Gazetteer"}]} for i in range(n)]


def test_many_places_are_drawn_on_a_canvas_and_the_feed_holds_the_logs_tail(serve, page, tmp_path):
    server = serve()
    append_file(server, tmp_path, _places(450))  # positions 34..483, a capture at 484: a tail of 200
    append_file(server, tmp_path, [{"type": "CityCaptured", "occurred_on": "2014-07-20", "place": "town007",
                                    "captured_by": "isis", "sources": [{"publisher": "Example Wire"}]}])
    page.goto(server.url + "/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    mapped = page.locator("#map")
    expect(mapped).to_have_attribute("data-render", "canvas")
    expect(mapped).to_have_attribute("data-places", "459")  # 450 towns and the seed's 9 places
    expect(page.locator("#map canvas.places-canvas")).to_have_attribute("data-drawn", "459")
    expect(page.locator("#map path.place-marker")).to_have_count(0)  # no SVG node per place
    page.locator("#changes-since").fill("2014-05-31")  # the changed places are ringed on the canvas too
    expect(page.locator("#changes")).to_have_attribute("data-state", "ready")
    expect(page.locator("#map canvas.places-canvas")).to_have_attribute("data-changed", re.compile(r"^[1-9]\d*$"))
    # the table shows its first rows and offers the next ones
    expect(page.locator("#places-count")).to_have_text("461")  # and the two countries: listed, not plotted
    expect(page.locator("#places-table tbody tr[data-place]")).to_have_count(100)
    expect(page.locator("#places-table tr.more-row")).to_contain_text("Showing 100 of 461")
    page.locator("#places-table tr.more-row button").click()
    expect(page.locator("#places-table tbody tr[data-place]")).to_have_count(200)
    # a click on the canvas selects the place under it: its panel and its history, from the server
    page.evaluate("document.querySelector('#map').scrollIntoView({block: 'center'})")  # the table scrolled it away
    x, y = page.evaluate("""() => {
        const p = window.tracker.map.map.latLngToContainerPoint([31.0, 40.1]);
        const box = document.querySelector('#map').getBoundingClientRect();
        return [box.left + p.x, box.top + p.y]; }""")
    page.mouse.click(x, y)
    expect(page.locator("#place-detail h2")).to_have_text("Town 7")
    expect(page.locator("#place-detail-body ol.history li")).to_have_count(1)
    expect(page.locator("#place-detail-body ol.history li")).to_contain_text(f"{ISIS} captured Town 7")
    # the feed: the log's tail only (the 200 events after 284), older pages on request
    feed = page.locator("#feed")
    expect(feed.locator("li.feed-item").first).to_have_attribute("data-position", "484")
    expect(feed.locator('li[data-position="33"]')).to_have_count(0)
    assert page.evaluate("window.tracker.state.log.first") == 285  # after 484 - 200
    # 200 older events a page: registrations, hidden from the feed. Two clicks in one task: the second
    # comes while the first page is loading, and is not lost (the next page is loaded after it)
    page.evaluate("() => { const more = document.querySelector('#feed-more'); more.click(); more.click(); }")
    page.wait_for_function("window.tracker.state.log.first === 1")
    expect(feed.locator('li[data-position="33"]')).to_have_count(1)
    positions = feed.locator("li.feed-item").evaluate_all("items => items.map(i => Number(i.dataset.position))")
    assert positions == sorted(set(positions), reverse=True) and len(positions) == 18


def test_a_long_history_is_paged_and_an_answer_for_another_place_is_not_shown(serve, page, tmp_path):
    server = serve()
    captures = [{"type": "CityCaptured", "occurred_on": f"2014-07-{day:02d}", "place": "homs",
                 "captured_by": "isis" if day % 2 else "syrian_government", "sources": [{"publisher": "Example Wire"}]}
                for day in range(1, 26)]
    append_file(server, tmp_path, captures)
    open_dashboard(page, server)
    page.locator('#places-table button[data-place="homs"]').click()
    body = page.locator("#place-detail-body")
    history = body.locator("ol.history li")
    expect(history).to_have_count(20)  # a page
    expect(history.first).to_have_attribute("data-position", "58")  # newest first
    expect(history.first.locator("time")).to_have_text("25 July 2014")
    body.locator("button.history-more").click()
    expect(history).to_have_count(25)
    expect(history.last).to_have_attribute("data-position", "34")
    expect(body.locator("button.history-more")).to_have_count(0)
    # another place at once, then back: each panel shows its own place's history only
    page.locator('#places-table button[data-place="mosul"]').click()
    page.locator('#places-table button[data-place="tikrit"]').click()
    expect(page.locator("#place-detail h2")).to_have_text("Tikrit")
    expect(body.locator("ol.history")).to_have_attribute("data-place", "tikrit")
    expect(body.locator("ol.history li")).to_have_count(3)  # its capture, the assault, the repulse
    # a report about the selected place, from another process: its history follows
    append_file(server, tmp_path, [{"type": "CityCaptured", "occurred_on": "2014-07-26", "place": "tikrit",
                                    "captured_by": "iraqi_forces", "sources": [{"publisher": "Example Wire"}]}])
    expect(body.locator("ol.history li")).to_have_count(4, timeout=LIVE_WITHIN_MS)
    expect(body.locator("ol.history li").first).to_have_attribute("data-position", "59")
