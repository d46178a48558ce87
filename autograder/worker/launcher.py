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
  entered once the process is the kernel's own user).
"""

import json
import os
import sys

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
    os.execv(
        sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
