"""Start a grading kernel in a sandbox (Linux, run as root by the worker).

The worker's box (:mod:`autograder.worker.box`) points the ``python3``
kernelspec of a grading run at ``python .../worker/sandbox.py -f
CONNECTION_FILE``; this launcher, which imports nothing of ``autograder``,
reads its settings from the environment variable ``SEQBOOK_SANDBOX``
(JSON), then:

- moves the kernel into new mount and network namespaces: no network at
  all, not even loopback (the kernel talks to nbgrader and to the judge over
  Unix sockets);
- hides what a student must not read: the course's sources (solutions,
  checks, tests, git history), the master gradebook, the class's
  submissions and grades, and every other grading run, by mounting empty
  file systems over them; the kernel keeps the course library it needs and
  the kernel side of the judge (the grader's package is replaced by a copy
  of that side alone), and its own working folder (its "box", a folder only
  its own user may enter);
- drops root for a user id of its own (so it cannot undo any of this, nor
  read another kernel's memory), (the worker then sets its memory limit);
- then replaces itself with the ordinary IPython kernel.

Without ``SEQBOOK_SANDBOX`` it starts the kernel as is.
"""

import ctypes
import json
import os
import shutil
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _bind(source, target):
    _mount(source, target, None, MS_BIND | MS_REC)


def _hide(path):
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", 0, "size=1m,mode=0755")


def _chown_tree(path, uid):
    for root, _dirs, files in os.walk(path):
        os.chown(root, uid, uid)
        for name in files:
            os.chown(os.path.join(root, name), uid, uid)


def _prefixes(path):
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:depth]) for depth in range(1, len(parts))]


def _open_ways_to(targets, box):
    """Let another user reach each of ``targets`` (the Python installation
    and the virtual environment, e.g. under /root or a home folder, which
    only their owner may enter): every closed folder on the way gets an
    open, empty folder over it, with the paths to the targets put back
    into it (nothing else of it stays visible)."""
    stash = os.path.join(box, "stash")
    for target in targets:
        for closed in _prefixes(target):
            if os.stat(closed).st_mode & 0o001:
                continue
            children = sorted(
                {
                    closed + "/" + t[len(closed) + 1 :].split("/")[0]
                    for t in targets
                    if t.startswith(closed + "/")
                }
            )
            for i, child in enumerate(children):
                os.makedirs(f"{stash}/{i}", exist_ok=True)
                _bind(child, f"{stash}/{i}")
            _mount("tmpfs", closed, "tmpfs", 0, "size=1m,mode=0755")
            for i, child in enumerate(children):
                os.makedirs(child, exist_ok=True)
                _bind(f"{stash}/{i}", child)
                _check(
                    _libc.umount2(f"{stash}/{i}".encode(), MNT_DETACH),
                    "umount",
                )


def enter(settings):
    """Isolate this process as ``settings`` say; returns the new cwd."""
    box = settings["box"]  # /tmp/seqbook-sbx-...: ipc/, home/, work/
    uid = int(settings["uid"])
    work = os.getcwd()
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # The kernel's own folder, seen at box/work. (Other kernels' boxes are
    # closed to this one: each belongs to its own user, mode 0700.)
    _bind(work, os.path.join(box, "work"))
    prefixes = {sys.base_prefix, sys.prefix}
    _open_ways_to(sorted(os.path.realpath(p) for p in prefixes), box)
    for path in settings.get("hide", []):
        _hide(path)
    client = settings.get("client")
    if client:
        _bind(client["source"], client["target"])
    _chown_tree(os.path.join(box, "work"), uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    return os.path.join(box, "work")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    raw = os.environ.pop("SEQBOOK_SANDBOX", None)
    args = list(argv)
    if raw:
        settings = json.loads(raw)
        connection = args[args.index("-f") + 1]
        copy = os.path.join(settings["box"], "ipc", "connection.json")
        shutil.copyfile(connection, copy)
        os.chmod(copy, 0o644)
        args[args.index("-f") + 1] = copy
        cwd = enter(settings)
        os.chdir(cwd)
        home = os.path.join(settings["box"], "home")
        os.environ.update(
            HOME=home,
            TMPDIR=home,
            MPLCONFIGDIR=os.path.join(home, ".matplotlib"),
            PYTHONDONTWRITEBYTECODE="1",
        )
    os.execv(
        sys.executable, [sys.executable, "-m", "ipykernel_launcher", *args]
    )


if __name__ == "__main__":
    main()
