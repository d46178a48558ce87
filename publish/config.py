"""Where the student tree is published, and the links that open it.

The one setting is ``repository.url`` in ``_config.yml``: the public
GitHub repository that holds the student tree (``make publish`` builds it;
the workflow pushes it there), with ``repository.branch``. GitHub Pages
serves that repository at ``https://<org>.github.io/<name>/`` unless
``html.baseurl`` names the site's address. Colab and Binder open notebooks
from the repository; the notebooks' install cell finds the course library
on the site. Empty: nothing is published and nothing links to it.
"""

from dataclasses import dataclass
from urllib.parse import quote

import yaml

from publish import REPO

CONFIG = REPO / "_config.yml"
INTERFACES = {"classic": "tree", "jupyterlab": "lab/tree"}


@dataclass(frozen=True)
class Published:
    """The published tree's repository, site and launch services."""

    repository: str  # https://github.com/<org>/<name>
    branch: str
    site: str  # the site's address, ending with "/"
    colab_url: str = ""  # "" when Colab links are off
    binderhub_url: str = ""  # "" when Binder links are off
    interface: str = "lab/tree"

    @property
    def org_and_name(self):
        return self.repository.rstrip("/").split("/")[-2:]

    @property
    def wheels(self):
        """The folder of the site that lists the course library's wheel."""
        return self.site + "wheels/"

    def colab(self, path):
        """Colab's link to the notebook at ``path`` in the tree, or ""."""
        if not self.colab_url:
            return ""
        org, name = self.org_and_name
        return (
            f"{self.colab_url}/github/{org}/{name}/blob/"
            f"{quote(self.branch)}/{quote(path)}"
        )

    def binder(self, path):
        """Binder's link that opens the notebook at ``path``, or ""."""
        if not self.binderhub_url:
            return ""
        org, name = self.org_and_name
        return (
            f"{self.binderhub_url}/v2/gh/{org}/{name}/{quote(self.branch)}"
            f"?urlpath={quote(self.interface + '/' + path)}"
        )


def pages_site(repository):
    """GitHub Pages' address of a repository's site."""
    org, name = repository.rstrip("/").split("/")[-2:]
    host = f"{org.lower()}.github.io"
    return (
        f"https://{host}/"
        if name.lower() == host
        else f"https://{host}/{name}/"
    )


def published(repository, branch="", baseurl="", launch_buttons=None):
    """A ``Published`` for these settings, or None when ``repository`` is
    empty (nothing is published)."""
    if not repository:
        return None
    repository = repository.strip().rstrip("/").removesuffix(".git")
    parts = repository.split("/")
    if not repository.startswith("https://github.com/") or len(parts) != 5:
        raise ValueError(
            "repository.url in _config.yml must be a GitHub repository, "
            f"https://github.com/<org>/<name> (Colab opens only those): "
            f"{repository!r}"
        )
    buttons = launch_buttons or {}
    interface = buttons.get("notebook_interface", "jupyterlab")
    if interface not in INTERFACES:
        raise ValueError(f"notebook_interface must be one of {INTERFACES}")
    site = baseurl.rstrip("/") + "/" if baseurl else pages_site(repository)
    return Published(
        repository=repository,
        branch=branch or "main",
        site=site,
        colab_url=(buttons.get("colab_url") or "").rstrip("/"),
        binderhub_url=(buttons.get("binderhub_url") or "").rstrip("/"),
        interface=INTERFACES[interface],
    )


def from_config(path=CONFIG):
    """The ``Published`` that a Jupyter Book ``_config.yml`` sets, or None."""
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    repository = config.get("repository") or {}
    return published(
        repository.get("url") or "",
        repository.get("branch") or "",
        (config.get("html") or {}).get("baseurl") or "",
        config.get("launch_buttons"),
    )
