"""A real PostgreSQL server for a test, from Debian's package: a fresh
cluster (``initdb``) in a temporary folder, started with ``pg_ctl`` on a
Unix socket only (no TCP port), stopped and removed afterwards.

As root (as here and in CI) the server runs as Debian's ``postgres``
user, since PostgreSQL refuses to run as root. Where the package is
missing and we are root with apt-get, it is installed.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

APT_PACKAGES = ["postgresql"]


def _bin_dir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def ensure_postgresql():
    """Debian's PostgreSQL programs' folder, installing the package when
    possible; None and a reason when it cannot be had."""
    if _bin_dir():
        return _bin_dir(), ""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return None, "no PostgreSQL: apt-get install postgresql (as root)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["install", "-y"], ["update"], ["install", "-y"]):
        result = subprocess.run(
            ["apt-get", *step, *(APT_PACKAGES if "-y" in step else [])],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        if "-y" in step and result.returncode == 0 and _bin_dir():
            return _bin_dir(), ""
    return None, "apt-get install postgresql failed: " + result.stderr[-500:]


def _run(argv, user):
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, user=user
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, argv))} failed:\n"
            + result.stdout[-2000:]
            + result.stderr[-2000:]
        )


@contextlib.contextmanager
def postgresql_server(bin_dir, database="gradebook"):
    """A running server with an empty ``database``; yields its SQLAlchemy
    URL (the psycopg2 driver, over the Unix socket)."""
    user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="seqbook-pg-"))
    if user:
        shutil.chown(folder, user, user)
    data, log = folder / "data", folder / "server.log"
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    try:
        _run(
            [bin_dir / "initdb", "-D", data, "-U", "grader", "-A", "trust"]
            + ["-E", "UTF8", "--no-sync", "--no-instructions"],
            user,
        )
        options = f"-k {folder} -c listen_addresses='' -c fsync=off"
        _run([*ctl, "-w", "-l", str(log), "-o", options, "start"], user)
        try:
            _run(
                [bin_dir / "createdb", "-h", folder, "-U", "grader", database],
                user,
            )
            yield f"postgresql://grader@/{database}?host={folder}"
        finally:
            _run([*ctl, "-m", "immediate", "stop"], user)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
