"""Debian programs the tests need, installed with apt-get when one is
missing and the tests run as root (as on CI); elsewhere they say how."""

import os
import shutil
import subprocess


def ensure_program(program, package):
    """The path of ``program``, installing Debian's ``package`` when it is
    missing and we are root; None and the reason when it cannot be had."""
    found = shutil.which(program)
    if found:
        return found, ""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return None, f"no {program}: apt-get install {package}, as root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for update in (False, True):
        if update:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", package],
            env=env,
            capture_output=True,
            check=False,
        )
        if shutil.which(program):
            return shutil.which(program), ""
    return None, f"apt-get install {package} failed"
