"""Free space of the folders a pipeline writes to, checked before anything is created.

A full disk found at submit is one clear error naming the folder; found later (it fills while
steps run) it is handled where the bytes are written (``logship.HeldFile``, the step's outputs).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from steprun_widgets.errors import StepRunError

#: Below this many free bytes in a folder a pipeline writes to, submit refuses (a step's logs, its
#: plan and its runner's log need a little room before any output is written).
MIN_FREE = 1024 * 1024


class NoSpaceError(StepRunError, OSError):
    """A folder the pipeline needs has no room left (``errno.ENOSPC``); the message names it."""

    def __init__(self, message: str) -> None:
        StepRunError.__init__(self, message)
        self.errno = errno.ENOSPC


def _existing(folder: Path) -> Path:
    """The folder itself or, when it is not made yet, its nearest parent that exists."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(_existing(folder)).free


def check_free_space(folders: Mapping[str, Path], minimum: int = MIN_FREE) -> None:
    """Raise NoSpaceError naming the first folder (``{what: folder}``) with less than ``minimum`` free."""
    for what, folder in folders.items():
        try:
            free = free_bytes(folder)
        except OSError:
            continue  # cannot be measured here: the write itself will say
        if free < minimum:
            raise NoSpaceError(
                f"No space left on device: the {what} {str(folder)!r} has {free:,} bytes free; a "
                f"pipeline needs at least {minimum // 1024:,} KiB there to start. Free some space "
                "on that disk and submit again")


def reword_no_space(exc: OSError, what: str, path: os.PathLike | str) -> OSError:
    """``exc`` itself, or for ENOSPC a NoSpaceError that names ``path`` and what it is for."""
    if exc.errno != errno.ENOSPC or isinstance(exc, NoSpaceError):
        return exc
    return NoSpaceError(f"No space left on device: cannot write the {what} {str(path)!r}; free some "
                        "space on that disk and submit again")
