"""The built book, read in a real browser (headless Chromium).

Serves the session's build (the `built` fixture of conftest.py) on
localhost and opens every page of _toc.yml plus the search page: no console
errors, no request to any address but localhost (the book works offline),
math rendered by MathJax, every image loaded, every internal link and anchor
resolving, search finding "LSTM", and the theme switch toggling light and
dark. A screenshot of every page's first screen lands in
_build/screenshots/<page>.png.

The Korean edition (ko/, built by `make book` too) gets the same checks,
page by page, and its own: Korean text is drawn in a Korean font (the
font Chromium reports for a Korean paragraph, through the DevTools
protocol's CSS.getPlatformFontsForNode; the test installs Debian's
fonts-noto-cjk as it does chromium), and a search for a Korean term as a
reader types it (은닉 상태, 기울기 소실, with a particle too) finds the
chapter that introduces it. Its screenshots land in _build/screenshots/ko/.

Accessibility: axe-core (from the PyPI package axe-playwright-python) finds
no violation of WCAG 2.1 A or AA on any of those pages, in light and in dark
mode (the Korean pages, the English ones' elements with other text, in light
mode), with every collapsed part opened too.

Chromium comes from Debian (`chromium`, `chromium-driver`); when it is
missing and we are root with apt-get, the test installs it. Playwright
(requirements.txt) drives it through `executable_path`; its own browser
download is never used (browsing.py, shared with test_report.py).
"""

import functools
import http.server
import re
import threading
import urllib.error
import urllib.request
from html.parser import HTMLParser
from urllib.parse import quote, urldefrag, urljoin, urlparse

import pytest

from pages import toc_files
from browsing import (
    AXE_TAGS,
    LOCAL_HOSTS,
    SCREENSHOTS,
    axe_options,
    describe,
    ensure_korean_font,
    launched,
)

# Each test needs the whole book built and a browser.
pytestmark = pytest.mark.slow


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
    reason = ensure_korean_font()
    if reason:
        pytest.skip(reason)
    with launched() as chromium:
        yield chromium


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
        self.fonts = None  # Korean pages: the fonts of a Korean paragraph


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


def wait_for_math(page):
    """Wait until MathJax has typeset the page; the number of math nodes."""
    math_nodes = page.locator(".math").count()
    if math_nodes:
        page.wait_for_function(
            "() => window.MathJax && MathJax.startup"
            " && MathJax.startup.promise",
            timeout=30_000,
        )
        page.evaluate("() => MathJax.startup.promise.then(() => true)")
    return math_nodes


# The first paragraph of the article with Hangul in it, marked for the
# DevTools protocol; false when there is none.
MARK_KOREAN = """() => {
  const found = [...document.querySelectorAll('article p')]
      .find(p => /[\uac00-\ud7a3]{4}/.test(p.textContent));
  if (found) found.setAttribute('data-korean-probe', '');
  return !!found;
}"""


def korean_fonts(page):
    """[(family, glyphs)] Chromium used for a Korean paragraph's text, or
    None when the page has no Korean paragraph."""
    if not page.evaluate(MARK_KOREAN):
        return None
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send(
            "DOM.querySelector",
            {"nodeId": root, "selector": "[data-korean-probe]"},
        )["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})
    finally:
        cdp.detach()
    return [(f["familyName"], f["glyphCount"]) for f in fonts["fonts"]]


def settle(page):
    """Wait until the loaded page has its images (lazy ones made eager)
    and its fonts: what a reader sees once it has loaded."""
    page.evaluate(IMAGES)
    page.evaluate("() => document.fonts.ready.then(() => true)")


def open_page(page, url):
    """Open url in page and wait until it is drawn (its math typeset,
    a search page's results listed): the number of math nodes."""
    page.goto(url, wait_until="load")
    math_nodes = wait_for_math(page)
    if "search.html" in url:
        page.wait_for_function(SEARCH_DONE, timeout=30_000)
    settle(page)
    return math_nodes


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
        record.math_nodes = open_page(page, url)
        record.mathjax_containers = page.locator("mjx-container").count()
        text = page.evaluate(ARTICLE_TEXT)
        record.raw_math = re.findall(r".{0,30}(?:\$\$|\\\(|\\\[).{0,30}", text)
        record.images = page.evaluate(IMAGES)
        record.links = page.eval_on_selector_all(
            "a[href]", "links => links.map(a => a.href)"
        )
        if name.startswith(KOREAN):
            record.fonts = korean_fonts(page)
        if screenshot:
            # the first screen: a long page's whole length costs seconds
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_page_error)
        page.remove_listener("request", on_request)
        page.remove_listener("requestfailed", on_failed)
        page.remove_listener("response", on_response)
    return record


def offline_page(browser, **options):
    """A page of a new browser context (options: Playwright's) that fetches
    nothing outside localhost: (context, page)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, **options
    )
    # Nothing outside localhost may be fetched; record, then refuse it.
    context.route(
        re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)[:/]).*://.*"),
        lambda route: route.abort(),
    )
    page = context.new_page()
    # A loaded CI machine is slow to render the long pages.
    page.set_default_timeout(120_000)
    return context, page


PAGES = toc_files()
# The Korean edition's pages: the same, in the site's folder ko/.
KOREAN = "ko/"
KOREAN_PAGES = [KOREAN + name for name in PAGES]
ALL_PAGES = PAGES + KOREAN_PAGES


def screenshot_path(name):
    """_build/screenshots/<page>.png, and ko/<page>.png for Korean."""
    folder = SCREENSHOTS / KOREAN if name.startswith(KOREAN) else SCREENSHOTS
    return folder / f"{name.split('/')[-1]}.png"


def same_colours(options):
    """axe's options without its colour-contrast rule (three quarters of
    an audit's time): for the Korean pages, the English pages' elements
    in the English pages' colours, which the English audits measure in
    both modes."""
    rules = dict(options["rules"], **{"color-contrast": {"enabled": False}})
    return dict(options, rules=rules)


def edition(name):
    """ "ko" for a page of the Korean edition, else "en"."""
    return "ko" if name.startswith(KOREAN) else "en"


def read_edition(browser, site, axe_run, names):
    """Every page of names (one edition) opened once, in light mode chosen
    with the theme's switch while the system prefers dark: what it did
    (a Visit) and axe's audit of it, and the audit of the edition's
    search page: ({name: Visit}, {name: Audit})."""
    axe, options = axe_run
    if edition(names[0]) == "ko":
        options = same_colours(options)
    context, page = offline_page(browser, color_scheme=MODES["light"])
    page.goto(site + f"{names[0]}.html", wait_until="load")
    choose_mode(page, "light")
    visits, audits = {}, {}
    for name in names:
        url = site + f"{name}.html"
        visits[name] = visit(page, name, url, screenshot_path(name))
        audits[name] = audit_open(page, axe, options)
    folder = KOREAN if edition(names[0]) == "ko" else ""
    url = site + folder + SEARCH_QUERY
    audits[folder + "search"] = audit(page, url, axe, options)
    context.close()
    return visits, audits


# The two editions are read apart (and audited in dark mode apart), so
# that the test session's two processes share the work (conftest.py).
@pytest.fixture(scope="module")
def pages_en(browser, site, axe_run):
    return read_edition(browser, site, axe_run, PAGES)


@pytest.fixture(scope="module")
def pages_ko(browser, site, axe_run):
    return read_edition(browser, site, axe_run, KOREAN_PAGES)


def visit_of(request, name):
    """The Visit of page name, from its edition's reading."""
    return request.getfixturevalue(f"pages_{edition(name)}")[0][name]


@pytest.mark.parametrize("name", ALL_PAGES)
def test_no_console_errors(request, name):
    record = visit_of(request, name)
    assert not record.console_errors, record.console_errors


@pytest.mark.parametrize("name", ALL_PAGES)
def test_no_request_leaves_localhost(request, name):
    record = visit_of(request, name)
    assert not record.outside_requests, record.outside_requests
    assert not record.failed_requests, record.failed_requests
    assert not record.bad_responses, record.bad_responses


@pytest.mark.parametrize("name", ALL_PAGES)
def test_math_is_rendered(request, name):
    record = visit_of(request, name)
    if record.math_nodes:
        assert record.mathjax_containers >= record.math_nodes, (
            f"{record.math_nodes} math elements, "
            f"{record.mathjax_containers} rendered by MathJax"
        )
    assert not record.raw_math, record.raw_math


def test_mathjax_comes_from_the_site(pages_en):
    pages_with_math = [r for r in pages_en[0].values() if r.math_nodes]
    assert pages_with_math, "no page has math"


@pytest.mark.parametrize("name", ALL_PAGES)
def test_every_image_loads_and_has_alt_text(request, name):
    for image in visit_of(request, name).images:
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


@pytest.mark.parametrize("name", ALL_PAGES)
def test_internal_links_resolve(request, site, name):
    broken = []
    for link in sorted(set(visit_of(request, name).links)):
        if not link.startswith(site):
            continue
        target, fragment = urldefrag(link)
        status, ids = fetch(target)
        if status != 200:
            broken.append(f"{link}: HTTP {status}")
        elif fragment and fragment not in ids:
            broken.append(f"{link}: no element with id {fragment!r}")
    assert not broken, broken


def test_chapters_are_linked_from_the_sidebar(pages_en, site):
    links = set(pages_en[0][PAGES[0]].links)
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


# Fonts that draw Hangul: Debian's Noto CJK (its KR face, or the CJK font
# that carries Hangul too), Nanum, and those of macOS and Windows.
KOREAN_FONT = re.compile(
    r"Noto Sans CJK|Noto Serif CJK|Noto Sans KR|Nanum|Malgun|Apple SD Gothic"
)


@pytest.mark.parametrize("name", KOREAN_PAGES)
def test_korean_text_is_drawn_in_a_korean_font(pages_ko, name):
    fonts = pages_ko[0][name].fonts
    assert fonts, f"{name}: no Korean paragraph found"
    korean = [(family, n) for family, n in fonts if KOREAN_FONT.search(family)]
    assert korean, f"{name}: Korean drawn with {fonts}"
    most = max(fonts, key=lambda font: font[1])
    assert KOREAN_FONT.search(most[0]), f"{name}: most glyphs from {most}"


def search_results(browser, url):
    """(titles of the results, console errors) of a search page."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(url, wait_until="load")
    page.wait_for_function(SEARCH_DONE, timeout=30_000)
    titles = page.locator("ul.search li").all_inner_texts()
    return page, context, titles, errors


def korean_title(built, name):
    """The <h1> of a page of the built Korean edition."""
    _, html = built
    text = (html / f"{KOREAN}{name}.html").read_text(encoding="utf-8")
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.S)[1]
    return re.sub(r"<[^>]+>", "", heading).replace("#", "").strip()


@pytest.mark.parametrize(
    "query, chapter",
    [
        ("은닉 상태", "book/sequence_data"),
        ("은닉 상태를", "book/sequence_data"),
        ("기울기 소실", "book/bptt"),
        ("기울기 소실이", "book/bptt"),
    ],
)
def test_korean_search_finds_the_chapter_of_a_term(
    browser, site, built, query, chapter
):
    url = site + KOREAN + "search.html?q=" + quote(query)
    page, context, titles, errors = search_results(browser, url)
    shot = SCREENSHOTS / KOREAN / f"search-{query.replace(' ', '_')}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    context.close()
    title = korean_title(built, chapter)
    assert any(title in found for found in titles), (title, titles)
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


# Accessibility: WCAG 2.1 A and AA, measured by axe-core (the PyPI package
# axe-playwright-python bundles it). Every axe rule tagged with one of these
# runs, the ones axe leaves off by default (experimental, deprecated)
# included; none is disabled and no element is excluded.
# Each mode is chosen with the theme's switch while the system prefers the
# other one, so a style that follows the system instead of the reader's
# choice is caught as well.
MODES = {"light": "dark", "dark": "light"}
AXE_PAGES = [*ALL_PAGES, "search", KOREAN + "search"]
# The Korean pages are the English pages' elements and colours with other
# text (and a Korean font): they are audited in light mode only and
# without the colour-contrast rule (same_colours), the English ones with
# every rule in both modes (an axe run costs seconds per page).
AXE_RUNS = [
    (mode, name)
    for mode in MODES
    for name in AXE_PAGES
    if mode == "light" or not name.startswith(KOREAN)
]
SEARCH_QUERY = "search.html?q=LSTM"

# What a collapsed part shows: its title or summary. They are audited
# collapsed, then the whole page with every part opened the way a reader
# opens it (togglebutton admonitions through their own buttons, <details>
# by opening them): solutions, hidden code cells, dropdowns. OPEN_DROPDOWNS
# returns the number opened.
COLLAPSED_TITLES = (
    "details:not([open]) > summary, .toggle-hidden > .admonition-title"
)
OPEN_DROPDOWNS = """() => {
  const closed = [...document.querySelectorAll('.toggle-hidden')];
  closed.forEach(item => item.querySelector('.toggle-button').click());
  const details = [...document.querySelectorAll('details:not([open])')];
  details.forEach(item => { item.open = true; });
  return closed.length + details.length;
}"""
ANIMATIONS_DONE = (
    "() => Promise.all(document.getAnimations()"
    ".map(animation => animation.finished)).then(() => true)"
)
SEARCH_DONE = """() => {
  const summary = document.querySelector('#search-results .search-summary');
  return summary && summary.innerText.trim().length > 0;
}"""


class Audit:
    """axe on one page in one mode: the mode the page showed (data-theme)
    and the violations, each marked with the state it was found in."""

    def __init__(self, theme, violations):
        self.theme = theme
        self.violations = violations


def choose_mode(page, mode):
    """Click the theme switch until the reader's choice is mode."""
    button = page.locator(".theme-switch-button").first
    for _ in range(4):
        if page.evaluate("document.documentElement.dataset.mode") == mode:
            return
        button.click()
    raise AssertionError(f"the theme switch never chose {mode} mode")


def marked(violations, state):
    return [dict(violation, state=state) for violation in violations]


def audit(page, url, axe, options):
    """Open url and audit it (audit_open)."""
    open_page(page, url)
    return audit_open(page, axe, options)


def audit_open(page, axe, options):
    """axe on the open page's collapsed parts' titles, then on the whole
    page with those parts opened."""
    theme = page.evaluate("document.documentElement.dataset.theme")
    violations = []
    if page.locator(COLLAPSED_TITLES).count():
        found = axe.run(page, COLLAPSED_TITLES, options)
        violations += marked(found.response["violations"], "collapsed")
    state = "as loaded"
    if page.evaluate(OPEN_DROPDOWNS):
        page.evaluate(ANIMATIONS_DONE)
        state = "collapsed parts opened"
    found = axe.run(page, options=options)
    return Audit(
        theme, violations + marked(found.response["violations"], state)
    )


@pytest.fixture(scope="module")
def axe_run(browser):
    """axe-core and its options: (Axe, options)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    return axe, axe_options(axe, browser)


@pytest.fixture(scope="module")
def dark_audits(browser, site, axe_run):
    """axe on every English page and the search page in dark mode, chosen
    with the switch while the system prefers light: name -> Audit."""
    axe, options = axe_run
    context, page = offline_page(browser, color_scheme=MODES["dark"])
    page.goto(site + f"{PAGES[0]}.html", wait_until="load")
    choose_mode(page, "dark")
    results = {}
    for name in [n for m, n in AXE_RUNS if m == "dark"]:
        url = site + (SEARCH_QUERY if name == "search" else f"{name}.html")
        results[name] = audit(page, url, axe, options)
    context.close()
    return results


@pytest.mark.parametrize("mode, name", AXE_RUNS)
def test_no_accessibility_violations(request, name, mode):
    """WCAG 2.1 AA as axe checks it: no violation of any impact."""
    if mode == "dark":
        result = request.getfixturevalue("dark_audits")[name]
    else:
        result = request.getfixturevalue(f"pages_{edition(name)}")[1][name]
    assert result.theme == mode, f"{name} showed {result.theme} mode"
    assert not result.violations, (
        f"axe ({', '.join(AXE_TAGS)}) on {name} in {mode} mode:\n"
        + describe(result.violations)
    )


# What the theme and the extensions wrote before book/_ext/book_a11y.py,
# book/_templates and book/_static/a11y.*: a button named without its
# visible text, a citation list of deprecated roles, a link too faint on
# the exercise boxes' tint, a hidden code cell with myst-nb's aria-label,
# and (a flaw only an opened part shows) faint text in a solution.
FLAWED_PAGE = """<html lang="en"><title>flawed</title><body><main>
<h1>Flawed</h1>
<button aria-label="Search">Search <kbd>Ctrl</kbd>+<kbd>K</kbd></button>
<div role="list"><div role="doc-biblioentry" id="c1"><span>
<a role="doc-backlink" href="#r1">Elman, 1990</a></span></div></div>
<p style="background: #ecf3ff"><a id="r1" href="#c1"
   style="color: #176de8">(1)</a></p>
<details><summary aria-label="Toggle hidden content">Show code cell
source</summary><p id="faint" style="color: #999">solution</p></details>
</main></body></html>"""


def test_axe_audit_finds_the_flaws_the_book_had(browser, axe_run):
    """The audit is not blind: on the flaws the book had, it finds each,
    the one inside a collapsed part too, and the report says where."""
    axe, options = axe_run
    page = browser.new_page()
    url = "data:text/html," + quote(FLAWED_PAGE)
    result = audit(page, url, axe, options)
    page.close()
    report = describe(result.violations)
    found = {(v["id"], v["state"]) for v in result.violations}
    opened = "collapsed parts opened"
    # label-content-name-mismatch is experimental: axe skips it by default.
    assert {
        ("label-content-name-mismatch", "collapsed"),
        ("label-content-name-mismatch", opened),
        ("aria-required-children", opened),
        ("color-contrast", opened),
    } <= found, report
    assert "4.29" in report and "#ecf3ff" in report, report
    assert "at #faint" in report and "<button" in report, report
