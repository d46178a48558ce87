"""Debian's Chromium, driven by Playwright, for the tests that read pages
in a real browser (test_browser.py: the book; test_report.py: the
class report), and the axe-core accessibility audit they run there.

Chromium comes from Debian (`chromium`, `chromium-driver`); when it is
missing and we are root with apt-get, it is installed. Playwright
(requirements.txt) drives it through `executable_path`; its own browser
download is never used.
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from submissions import REPO

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


@contextlib.contextmanager
def launched():
    """Headless Chromium (the test is skipped, saying why, when it
    cannot be had)."""
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


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_options(axe, browser):
    """axe.run's options: every rule with one of AXE_TAGS, enabled."""
    page = browser.new_page()
    page.set_content("<html lang='en'><title>axe</title></html>")
    page.evaluate(axe.axe_script)
    rules = page.evaluate("tags => axe.getRules(tags)", AXE_TAGS)
    page.close()
    return {
        "runOnly": {"type": "tag", "values": AXE_TAGS},
        "rules": {rule["ruleId"]: {"enabled": True} for rule in rules},
        "resultTypes": ["violations"],
    }


def describe(violations, shown=3):
    """What a writer needs to act: rule, impact, where, what, and why."""
    lines = []
    for violation in violations:
        nodes = violation["nodes"]
        lines.append(
            f"- {violation['id']} ({violation['impact']}; "
            f"{len(nodes)} element(s), {violation['state']}): "
            f"{violation['help']} <{violation['helpUrl']}>"
        )
        for node in nodes[:shown]:
            checks = node["any"] + node["all"] + node["none"]
            reason = checks[0]["message"] if checks else ""
            snippet = " ".join(node["html"].split())[:200]
            lines.append(f"    at {' '.join(map(str, node['target']))}")
            lines.append(f"       {snippet}")
            lines.append(f"       {reason}")
        if len(nodes) > shown:
            lines.append(f"    ... and {len(nodes) - shown} more")
    return "\n".join(lines)
