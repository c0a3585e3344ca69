"""Where the embedded default keeps its server: one root folder per person.

``Workspace.local()`` with no ``root`` uses :func:`default_root`: ``$STEPRUN_HOME`` when set, else the
user data folder of the platform (``platformdirs``: ``~/.local/share/steprun-widgets`` on Linux,
``~/Library/Application Support/steprun-widgets`` on macOS, ``%LOCALAPPDATA%\\steprun-widgets`` on
Windows). Every notebook, script, CLI call and widget of that user then reaches the same server, whatever
its working folder. A project-local root (the ``.steprun/`` folders of older versions) is still used when
it is passed explicitly (``Workspace.local(".steprun")``, ``--root .steprun``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME_ENV", "APP_NAME", "LEGACY_ROOT", "default_root", "resolve_root"]

#: Overrides the per-user root folder.
HOME_ENV = "STEPRUN_HOME"
#: The application name under the platform's user data folder.
APP_NAME = "steprun-widgets"
#: The project-local root older versions used by default (still honoured when passed explicitly).
LEGACY_ROOT = ".steprun"


def default_root() -> Path:
    """The per-user root: ``$STEPRUN_HOME``, else the platform's user data folder for steprun-widgets."""
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)).resolve()


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root`` made absolute, or the per-user root when it is ``None``."""
    return default_root() if root is None else Path(root).expanduser().resolve()
