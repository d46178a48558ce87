"""The built book, read in a real browser (headless Chromium).

Serves the session's build (the `built` fixture of conftest.py) on
localhost and opens every page of _toc.yml plus the search page: no console
errors, no request to any address but localhost (the book works offline),
math rendered by MathJax, every image loaded, every internal link and anchor
resolving, search finding "LSTM", and the theme switch toggling light and
dark. A screenshot of every page lands in _build/screenshots/<page>.png.

Chromium comes from Debian (`chromium`, `chromium-driver`); when it is
missing and we are root with apt-get, the test installs it. Playwright
(requirements.txt) drives it through `executable_path`; its own browser
download is never used.
"""

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest

from submissions import REPO
from pages import toc_files

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ["chromium", "chromium-driver"]
# Korean glyphs in the screenshots; the test does not need them.
APT_OPTIONAL = ["fonts-noto-cjk"]
SCREENSHOTS = REPO / "_build" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _apt_get(*args):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )


def ensure_chromium():
    """Path of Debian's chromium, installing it when possible; None and a
    reason when it cannot be had."""
    if CHROMIUM.exists():
        return CHROMIUM, ""
    if not shutil.which("apt-get"):
        return None, "no /usr/bin/chromium and no apt-get to install it"
    if os.geteuid() != 0:
        return None, (
            "no /usr/bin/chromium and not root to install it: "
            "apt-get install chromium chromium-driver"
        )
    result = _apt_get("install", "-y", *APT_PACKAGES)
    if result.returncode != 0:
        _apt_get("update")
        result = _apt_get("install", "-y", *APT_PACKAGES)
    if result.returncode != 0 or not CHROMIUM.exists():
        return None, "apt-get install chromium failed: " + result.stderr[-500:]
    _apt_get("install", "-y", *APT_OPTIONAL)
    return CHROMIUM, ""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        # The book declares no icon; a browser asks for /favicon.ico anyway
        # and would log the 404 as a console error that is not the book's.
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built):
    """The built html served on localhost: its base URL."""
    result, html = built
    if result.returncode != 0:
        pytest.fail("the book did not build (see test_book.py)")
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    path, reason = ensure_chromium()
    if path is None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(path), headless=True, timeout=120_000
        )
        yield chromium
        chromium.close()


class Visit:
    """What one page did in the browser."""

    def __init__(self, name, url):
        self.name = name
        self.url = url
        self.console_errors = []
        self.outside_requests = []
        self.failed_requests = []
        self.bad_responses = []
        self.links = []
        self.math_nodes = 0
        self.mathjax_containers = 0
        self.raw_math = []
        self.images = []


# Visible text of the page's article, without code (where a "$$" may be
# legitimate) and without MathJax's own output.
ARTICLE_TEXT = """() => {
  const main = document.querySelector('article') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, mjx-container, script, style')
      .forEach(node => node.remove());
  return copy.innerText;
}"""

IMAGES = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null :
      new Promise(done => { img.onload = img.onerror = done; })));
  return images.map(img => ({
    src: img.currentSrc || img.src,
    alt: img.getAttribute('alt') || '',
    complete: img.complete,
    width: img.naturalWidth,
  }));
}"""


def visit(page, name, url, screenshot):
    """Open url in page and record everything the checks need."""
    record = Visit(name, url)

    def on_console(message):
        if message.type == "error":
            record.console_errors.append(message.text)

    def on_request(request):
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https", "ws", "wss") and (
            parsed.hostname not in LOCAL_HOSTS
        ):
            record.outside_requests.append(request.url)

    def on_failed(request):
        record.failed_requests.append(request.url)

    def on_response(response):
        if response.status >= 400:
            record.bad_responses.append(f"{response.status} {response.url}")

    def on_page_error(error):
        record.console_errors.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("request", on_request)
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    try:
        page.goto(url, wait_until="load")
        record.math_nodes = page.locator(".math").count()
        if record.math_nodes:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup"
                " && MathJax.startup.promise",
                timeout=30_000,
            )
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
        record.mathjax_containers = page.locator("mjx-container").count()
        text = page.evaluate(ARTICLE_TEXT)
        record.raw_math = re.findall(r".{0,30}(?:\$\$|\\\(|\\\[).{0,30}", text)
        record.images = page.evaluate(IMAGES)
        record.links = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.href)"
        )
        page.wait_for_load_state("networkidle")
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_page_error)
        page.remove_listener("request", on_request)
        page.remove_listener("requestfailed", on_failed)
        page.remove_listener("response", on_response)
    return record


@pytest.fixture(scope="module")
def visits(browser, site):
    """Every page of the table of contents, opened once: name -> Visit."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Nothing outside localhost may be fetched; record, then refuse it.
    context.route(
        re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]).*://.*"),
        lambda route: route.abort(),
    )
    page = context.new_page()
    # A loaded CI machine is slow to render the long pages.
    page.set_default_timeout(120_000)
    records = {}
    for name in toc_files():
        stem = name.split("/")[-1]
        records[name] = visit(
            page, name, site + f"{name}.html", SCREENSHOTS / f"{stem}.png"
        )
    context.close()
    return records


PAGES = toc_files()


@pytest.mark.parametrize("name", PAGES)
def test_no_console_errors(visits, name):
    assert not visits[name].console_errors, visits[name].console_errors


@pytest.mark.parametrize("name", PAGES)
def test_no_request_leaves_localhost(visits, name):
    record = visits[name]
    assert not record.outside_requests, record.outside_requests
    assert not record.failed_requests, record.failed_requests
    assert not record.bad_responses, record.bad_responses


@pytest.mark.parametrize("name", PAGES)
def test_math_is_rendered(visits, name):
    record = visits[name]
    if record.math_nodes:
        assert record.mathjax_containers >= record.math_nodes, (
            f"{record.math_nodes} math elements, "
            f"{record.mathjax_containers} rendered by MathJax"
        )
    assert not record.raw_math, record.raw_math


def test_mathjax_comes_from_the_site(visits):
    pages_with_math = [r for r in visits.values() if r.math_nodes]
    assert pages_with_math, "no page has math"


@pytest.mark.parametrize("name", PAGES)
def test_every_image_loads_and_has_alt_text(visits, name):
    for image in visits[name].images:
        assert image["complete"] and image["width"] > 0, image["src"]
        assert image["alt"].strip(), image["src"]


class Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def fetch(url):
    """(status, ids of the page) of a same-site URL."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
            status = response.status
            kind = response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, frozenset()
    if kind != "text/html":
        return status, frozenset()
    parser = Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    return status, frozenset(parser.ids)


@pytest.mark.parametrize("name", PAGES)
def test_internal_links_resolve(visits, site, name):
    broken = []
    for link in sorted(set(visits[name].links)):
        if not link.startswith(site):
            continue
        target, fragment = urldefrag(link)
        status, ids = fetch(target)
        if status != 200:
            broken.append(f"{link}: HTTP {status}")
        elif fragment and fragment not in ids:
            broken.append(f"{link}: no element with id {fragment!r}")
    assert not broken, broken


def test_chapters_are_linked_from_the_sidebar(visits, site):
    links = set(visits[PAGES[0]].links)
    for name in PAGES[1:]:
        assert urljoin(site, f"{name}.html") in links, name


def test_search_finds_lstm(browser, site):
    context = browser.new_context()
    page = context.new_page()
    # A loaded CI machine is slow to render the long pages.
    page.set_default_timeout(120_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(site + "search.html?q=LSTM", wait_until="load")
    results = page.locator("ul.search li")
    results.first.wait_for(timeout=30_000)
    count = results.count()
    titles = results.all_inner_texts()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)
    context.close()
    assert count > 0
    assert any("short-term memory" in title.lower() for title in titles), (
        titles
    )
    assert not errors, errors


def test_theme_switch_toggles_light_and_dark(browser, site):
    context = browser.new_context()
    page = context.new_page()
    # A loaded CI machine is slow to render the long pages.
    page.set_default_timeout(120_000)
    page.goto(site + f"{PAGES[0]}.html", wait_until="load")
    seen = {page.evaluate("document.documentElement.dataset.theme")}
    button = page.locator(".theme-switch-button").first
    for _ in range(3):
        button.click()
        seen.add(page.evaluate("document.documentElement.dataset.theme"))
    context.close()
    assert {"light", "dark"} <= seen, seen
