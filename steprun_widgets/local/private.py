"""Owner-only files and folders for the embedded server's root (other users of the machine get nothing).

The root folder is ``0700``, so no other user can enter it, whatever the modes of the files inside; the
files steprun-widgets writes there are ``0600`` as well, so that a root copied or moved somewhere
less private keeps its secrets. A root made by an older version (``0755``/``0644``) is tightened in place.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from steprun_widgets.errors import StepRunError

__all__ = ["DIR_MODE", "FILE_MODE", "UMASK", "private_dir", "open_private", "tighten_tree"]

DIR_MODE = 0o700
FILE_MODE = 0o600
#: The umask of the processes that write into the root (the server, the detached runner).
UMASK = 0o077


def private_dir(path: Path, *, what: str = "folder") -> Path:
    """Create ``path`` (and missing parents) with the folder itself ``0700``; refuse one of another user.

    An existing folder of ours that others can read or enter is tightened to ``0700``.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StepRunError(
            f"the {what} {path} belongs to another user (uid {info.st_uid}): the embedded server keeps "
            "its store only in a folder of its own user; choose another root folder")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077 | DIR_MODE)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND | os.O_CREAT) -> int:
    """``os.open`` a file that is created ``0600`` (an existing file of ours is tightened to it)."""
    fd = os.open(path, flags, FILE_MODE)
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077 and hasattr(os, "fchmod"):  # Windows: modes mean nothing, its ACLs apply
            os.fchmod(fd, mode & ~0o077)
    return fd


def tighten_tree(root: Path) -> int:
    """Take every group/other permission bit off the files and folders under ``root``; the count changed.

    For a root made before the embedded server was owner-only. Symbolic links are not followed (their
    targets are not the root's), and files of other users are left alone.
    """
    changed = 0
    uid = os.getuid() if hasattr(os, "getuid") else None
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode) or (uid is not None and info.st_uid != uid):
                    continue
                mode = stat.S_IMODE(info.st_mode)
                if mode & 0o077:
                    os.chmod(path, mode & ~0o077)
                    changed += 1
            except OSError:
                continue  # removed meanwhile: nothing to protect
    return changed
