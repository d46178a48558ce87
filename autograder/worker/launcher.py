"""The first code of every grading kernel's process: its limits, its user,
then the ordinary IPython kernel.

:mod:`autograder.worker.box` writes the ``python3`` kernelspec of a
grading run as ``python -c <this file's source> SETTINGS -f
CONNECTION_FILE`` (inside the sandbox's bwrap command where there is
one), so this module imports nothing of ``autograder`` and needs no file
of the grader in the kernel's world. SETTINGS is JSON:

- ``limits``: resource name -> value (``RLIMIT_DATA``, ``RLIMIT_NPROC``,
  ``RLIMIT_NOFILE``, ``RLIMIT_FSIZE``, ``RLIMIT_CORE``), set before the
  kernel runs a single line;
- ``uid`` (root sandbox only): the kernel's own user id. The connection
  file (readable by root only) is copied into the kernel's socket folder
  ``ipc`` first; then the process drops root, and with it every
  capability, for good;
- ``cwd``: the kernel's working folder (sandboxed: its box's ``work``,
  entered once the process is the kernel's own user);
- ``preload`` (a kernel started ahead of its submission): modules
  imported (numpy, torch) as the kernel's own user before the kernel
  runs, into ``sys.modules`` only (no name of the notebook is bound);
  the kernel then runs in this same process, as ``python -m
  ipykernel_launcher`` would, so that they stay imported;
- ``ahead``: true for a kernel started before its submission came (it
  changes nothing here; its command line says so to whoever looks).
"""

import json
import os
import sys

# Names this program in its process's command line (the worker's watch
# finds a kernel that runs in the launcher's process by it).
MARK = "seqbook-grading-kernel"

try:
    import resource
except ImportError:  # Windows: no resource limits
    resource = None


def set_limits(limits):
    """Soft and hard limit of each resource named in ``limits``; one the
    platform does not know, or will not lower, is left as it is."""
    if resource is None:
        return
    for name, value in limits.items():
        kind = getattr(resource, name, None)
        if kind is None:
            continue
        try:
            resource.setrlimit(kind, (int(value), int(value)))
        except (ValueError, OSError):
            pass


def become(uid, connection, ipc):
    """Drop root for ``uid``; returns the copy of ``connection`` the
    kernel reads from then on."""
    with open(connection, "rb") as f:
        data = f.read()
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    copy = os.path.join(ipc, "connection.json")
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return copy


def main(argv):
    settings = json.loads(argv[0])
    args = list(argv[1:])
    set_limits(settings.get("limits", {}))
    if settings.get("uid") is not None:
        where = args.index("-f") + 1
        args[where] = become(settings["uid"], args[where], settings["ipc"])
    if settings.get("cwd"):
        os.chdir(settings["cwd"])
    if settings.get("preload"):
        preload(settings["preload"])
        run_kernel(args)
        return
    os.execv(
        sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args]
    )


def preload(names):
    """Import the modules ``names`` (one that fails is left alone: the
    notebook meets the same failure when it imports it)."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def run_kernel(args):
    """Run the kernel in this process, as ``python -m ipykernel_launcher
    ARGS`` does: the same ``sys.argv``, and the working folder first on
    ``sys.path``."""
    import runpy

    sys.argv = ["ipykernel_launcher", *args]
    sys.path[0] = os.getcwd()
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
