"""The kernel's sandbox: the bubblewrap command that starts a kernel.

bubblewrap (``bwrap``, Debian's ``bubblewrap``; Flatpak's sandbox) builds
the kernel's world from an allowlist; nothing else of the host's file
system exists in it:

- read-only: the system's libraries and programs (``/usr/lib*``,
  ``/usr/bin``, the ``/lib`` links), the Python installation (base and
  virtual environment, their site-packages) and the course library's
  folder; of the grader's own package, only the kernel side of the judge
  (the box's copy is mounted over the package wherever it lies inside
  what is shown); a minimal ``/etc`` (the loader's cache, fontconfig's
  settings, and a ``passwd`` and ``group`` of the box's own);
- read-write: the kernel's box (its work folder, home, ``/tmp`` and the
  sockets it talks over), which is all it may write;
- a new ``/proc`` and a minimal ``/dev``; new PID, IPC, network (none at
  all), UTS and cgroup namespaces; a session of its own; it dies with
  its parent (``--die-with-parent``); only the environment it needs.

Two ways to run it (:func:`probe` finds which this machine allows):

- ``root``: the grader runs as root. bwrap mounts as root, the box is a
  tmpfs of its own size (the disk limit) and inode count (the file
  limit), and the kernel drops to a user id of its own before it starts
  (:mod:`autograder.worker.launcher`), so that its process limit counts
  its own processes only and it can neither undo the sandbox nor touch
  another kernel;
- ``userns``: as an ordinary user, bwrap works in a user namespace: the
  same allowlist and namespaces, but the kernel keeps the grading user's
  id, its work folder, home and ``/tmp`` are size-limited tmpfs of
  bwrap's (their number of files is not limited) and its socket folder
  lies on the host's disk.
"""

import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BWRAP = "bwrap"
# Folders of the host that hold the system's libraries and programs.
SYSTEM = ["/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/bin"]
# The top-level links (or folders) of the system's layout.
TOP = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
# Of /etc, only what the dynamic loader and the clock read, and
# fontconfig's settings (matplotlib asks fc-list for the fonts, which
# without them prints an error into the student's notebook).
ETC = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/fonts",
]
NAMESPACES = [
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup-try",
]


@dataclass(frozen=True)
class Probe:
    """What this machine allows: ``mode`` is ``root``, ``userns`` or None
    (no sandbox); ``reason`` says why when it is None."""

    mode: str | None
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """One kernel's sandbox: its mode, its box and what the box holds.

    - box: the box's folder (the same path inside and out)
    - shown: folders of the host shown read-only at the same path
    - covers: (source, target) pairs, ``source`` mounted read-only over
      ``target`` (the judge's kernel side over the grader's package)
    - hidden: folders inside ``shown`` that get an empty folder instead
    - files: files of the host shown read-only at the same path, after
      the rest (the connection file, ``{connection_file}`` in a
      kernelspec)
    - env: the kernel's whole environment
    - tmp_size: bytes of each tmpfs bwrap makes (userns mode)
    """

    mode: str
    box: Path
    shown: tuple
    covers: tuple = ()
    hidden: tuple = ()
    files: tuple = ()
    env: dict = field(default_factory=dict)
    tmp_size: int = 0


def python_folders():
    """The folders of the Python installation that runs the kernels: the
    base installation, the virtual environment, their site-packages (as
    given and resolved, for the links between them)."""
    found = {
        sys.base_prefix,
        sys.base_exec_prefix,
        sys.prefix,
        sys.exec_prefix,
        *site.getsitepackages(),
    }
    found |= {os.path.realpath(p) for p in found}
    executable = Path(sys.executable)
    found.add(str(Path(os.path.realpath(executable)).parent.parent))
    return outermost(p for p in found if os.path.isdir(p))


def package_folder(name):
    """The folder of the importable package ``name``, or None."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(list(spec.submodule_search_locations)[0])


def outermost(paths):
    """``paths`` without those inside another of them, sorted."""
    unique = sorted(set(paths))
    return [
        p
        for p in unique
        if not any(
            p != q and p.startswith(q.rstrip("/") + "/") for q in unique
        )
    ]


def inside(path, folders):
    """Whether ``path`` is one of ``folders`` or lies inside one."""
    path = os.path.realpath(path)
    return any(
        path == f or path.startswith(f.rstrip("/") + "/") for f in folders
    )


def _ancestors(paths):
    """Every folder on the way to ``paths``, outermost first."""
    found = set()
    for path in paths:
        parts = Path(path).parts[1:-1]
        for depth in range(1, len(parts) + 1):
            found.add("/" + "/".join(parts[:depth]))
    return sorted(found, key=lambda p: (p.count("/"), p))


def _system_args():
    args = []
    for top in TOP:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for folder in SYSTEM:
        if os.path.isdir(folder) and not os.path.islink(folder):
            args += ["--ro-bind", folder, folder]
    for path in ETC:
        args += ["--ro-bind-try", path, path]
    return args


def _tmp_args(plan):
    """The kernel's /tmp: the box's (root mode) or a tmpfs of bwrap's.
    Mounted before the rest, which may lie in the host's /tmp (the box
    itself, a Python installation) and is mounted over it."""
    if plan.mode == "root":
        return ["--bind", f"{plan.box}/tmp", "/tmp"]
    return ["--size", str(plan.tmp_size), "--tmpfs", "/tmp"]


def _box_args(plan):
    """The box: all of it in root mode (a tmpfs whose permissions say
    what the kernel's user may write); in userns mode its socket folder,
    the rest read-only, and tmpfs of bwrap's for what the kernel
    writes."""
    box = str(plan.box)
    args = ["--ro-bind", f"{box}/etc/passwd", "/etc/passwd"]
    args += ["--ro-bind", f"{box}/etc/group", "/etc/group"]
    if plan.mode == "root":
        return args + ["--bind", box, box]
    args += ["--ro-bind", box, box, "--bind", f"{box}/ipc", f"{box}/ipc"]
    for target in (f"{box}/work", f"{box}/home"):
        args += ["--size", str(plan.tmp_size), "--tmpfs", target]
    return args


def command(plan):
    """The bwrap command line (up to the ``--`` before the program) that
    starts a program in the sandbox of ``plan``."""
    args = [BWRAP, "--die-with-parent", "--new-session", *NAMESPACES]
    if plan.mode == "userns":
        args += ["--unshare-user", "--disable-userns"]
    else:
        # The launcher needs these two to become the kernel's own user;
        # it loses them (and every other) when it does.
        args += ["--cap-drop", "ALL"]
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    args += ["--hostname", "grading", *_tmp_args(plan)]
    # Every folder bwrap makes on the way to a mount point is open to
    # the kernel's user (bwrap would copy the host's modes: /root 0700).
    targets = [*plan.shown, *SYSTEM, str(plan.box), "/etc/passwd"]
    for folder in _ancestors(targets):
        if folder != "/tmp":  # mounted above, with its own modes
            args += ["--perms", "0755", "--dir", folder]
    args += _system_args()
    for folder in plan.shown:
        args += ["--ro-bind", folder, folder]
    for folder in plan.hidden:
        args += ["--perms", "0755", "--tmpfs", folder, "--remount-ro", folder]
    for source, target in plan.covers:
        args += ["--ro-bind", source, target]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += _box_args(plan)
    for path in plan.files:
        args += ["--ro-bind", path, path]
    # The launcher goes into box/work once it is the kernel's own user.
    args += ["--chdir", str(plan.box), "--clearenv"]
    for key, value in sorted(plan.env.items()):
        args += ["--setenv", key, str(value)]
    return args + ["--"]


def _run(argv):
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError) as error:
        return False, str(error)
    last = (result.stderr or result.stdout).strip().splitlines()[-1:]
    return result.returncode == 0, " ".join(last)


def _try_mode(mode, folder):
    """Whether a minimal sandbox of ``mode`` starts here (a reason if
    not)."""
    box = Path(folder)
    for name in ("etc", "ipc", "work", "home", "tmp"):
        (box / name).mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group"):
        (box / "etc" / name).write_text("")
    plan = Plan(mode, box, tuple(python_folders()), tmp_size=2**20)
    check = "import os; os.getpid()"
    return _run(command(plan) + [sys.executable, "-c", check])


def probe():
    """The sandbox this machine allows (:class:`Probe`): ``root`` when the
    grader is root and bwrap works, else ``userns`` when bwrap works in a
    user namespace, else None with the reason."""
    import tempfile

    if sys.platform != "linux":
        return Probe(None, f"sandboxing needs Linux (this is {sys.platform})")
    if shutil.which(BWRAP) is None:
        return Probe(
            None,
            "bubblewrap (bwrap) is not installed: apt-get install bubblewrap",
        )
    modes = ["root", "userns"] if os.geteuid() == 0 else ["userns"]
    reasons = []
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="seqbook-probe-") as tmp:
            os.chmod(tmp, 0o755)
            works, reason = _try_mode(mode, tmp)
        if works:
            return Probe(mode)
        reasons.append(f"{mode}: {reason}")
    return Probe(
        None, "bubblewrap cannot start here (" + "; ".join(reasons) + ")"
    )


def main():
    """Print this machine's :func:`probe` as JSON (the parent asks this
    way, before it starts any worker)."""
    import json

    found = probe()
    print(json.dumps({"mode": found.mode, "reason": found.reason}))


if __name__ == "__main__":
    main()
