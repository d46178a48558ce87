"""Builds of the book and of the student tree for the tests (conftest.py).

``build_book`` builds both editions as ``make book`` does, with warnings as
errors, into a folder of its own: Jupyter Book's English build, then the
Korean edition (``python -m i18n build``) from its execution cache.
``build_with_address`` builds it again with ``repository.url`` set to
another address (a copy of ``_config.yml`` given with ``--config``),
reusing the execution cache of an earlier build: the chapters are not run
twice. ``build_tree`` runs ``python -m publish``.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_REPOSITORY = "https://github.com/example-org/seqbook-course"
BIN = Path(sys.executable).parent


KOREAN_LOG = "\n==== python -m i18n build ====\n"


def _run(command, env):
    return subprocess.run(
        command,
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )


def build_book(out, config=None):
    """(CompletedProcess, html folder) of a build of both editions into
    ``out``: one result whose output is the English build's, then
    KOREAN_LOG and the Korean build's; its returncode is the first that
    failed."""
    env = dict(os.environ, SEQBOOK_PROGRESS="0")
    command = [str(BIN / "jupyter-book"), "build", ".", "--path-output"]
    command += [str(out), "--builder", "html", "-W", "-n", "--keep-going"]
    korean = [sys.executable, "-m", "i18n", "build", "--path-output"]
    korean += [str(out)]
    if config is not None:
        command += ["--config", str(config)]
        korean += ["--config", str(config)]
    result = _run(command, env)
    if result.returncode == 0:
        second = _run(korean, env)
        result.returncode = second.returncode
        result.stdout += KOREAN_LOG + second.stdout
        result.stderr += KOREAN_LOG + second.stderr
    return result, Path(out) / "_build" / "html"


def config_with_address(folder, url):
    """A copy of _config.yml in ``folder`` with repository.url = ``url``."""
    config = yaml.safe_load((REPO / "_config.yml").read_text("utf-8"))
    config.setdefault("repository", {})["url"] = url
    # local_extensions' paths are relative to the configuration file
    config["sphinx"]["local_extensions"] = {
        name: str((REPO / path).resolve())
        for name, path in config["sphinx"]["local_extensions"].items()
    }
    path = Path(folder) / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    return path


def build_with_address(built_html, out, url):
    """(CompletedProcess, html folder, config path) of a build with the
    address ``url`` ("" for none), reusing ``built_html``'s cache."""
    out = Path(out)
    cache = Path(built_html).parent / ".jupyter_cache"
    if cache.exists():
        shutil.copytree(cache, out / "_build" / ".jupyter_cache")
    config = config_with_address(out, url)
    result, html = build_book(out, config)
    return result, html, config


def build_tree(html, out, config):
    """(CompletedProcess, tree folder) of ``python -m publish``."""
    result = subprocess.run(
        [sys.executable, "-m", "publish", "--html", str(html), "--out"]
        + [str(out), "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, Path(out)
