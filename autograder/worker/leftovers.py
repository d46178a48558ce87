"""What a submission leaves behind goes before the next one starts.

A kernel serves one submission; so must everything it started. The
worker is the *subreaper* of its kernels (:func:`adopt_orphans`): a
process the student's code starts and detaches (a double fork, a new
session) becomes the worker's child instead of init's, so that
:func:`end_processes` finds and kills it once the kernel is gone. A
sandboxed kernel runs as a user of its own, which owns every file it
could write outside its box: :func:`remove_files` deletes them from the
folders every user may write to (``/tmp``, ``/var/tmp``, ``/dev/shm``).
The box itself (working folder, home) is removed by its owner,
:func:`autograder.worker.box.kernel_launch`.
"""

import ctypes
import os
import shutil
import signal
import stat

from autograder.job import descendants

PR_SET_CHILD_SUBREAPER = 36
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def adopt_orphans():
    """Make this process the subreaper of everything below it (Linux);
    False where the system does not allow it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def end_processes(keep=(), rounds=50):
    """Kill every process below this one but ``keep`` (pids, with what
    is below them), until none is left (a process that forks while it is
    being killed is caught on the next round); reap the dead."""
    keep = set(keep)
    for pid in list(keep):
        keep.update(descendants(pid))
    for _ in range(rounds):
        doomed = [p for p in descendants(os.getpid()) if p not in keep]
        if not doomed:
            break
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _reap(doomed)


def _reap(pids):
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except (ChildProcessError, OSError):
            pass  # not our child (its parent reaps it), or gone already


def remove_files(uid, folders=SHARED_FOLDERS):
    """Delete what user ``uid`` owns in ``folders`` and in the folders
    below them that every user may write to (the only places outside
    its box where that user can create anything)."""
    for folder in folders:
        _sweep(folder, uid, depth=0)


def _sweep(folder, uid, depth):
    if depth > 20:
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if info.st_uid == uid:
            _remove(entry.path, info)
        elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
            _sweep(entry.path, uid, depth + 1)


def _remove(path, info):
    try:
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass
