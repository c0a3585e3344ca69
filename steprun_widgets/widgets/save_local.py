"""Save an output into the kernel's working folder: what a JupyterHub user means by "download".

On JupyterHub the browser is on a laptop and the notebook on the server; an output saved beside
the notebook is what they usually want. The kernel writes it with Azure ML v1's own
``get_output_data(name).download(local_path=...)`` (temporary names, renamed once complete) and
answers with the path it wrote, relative to its working folder. A folder outside the working
folder is refused: the browser names a place, the kernel decides whether it may write there.
"""

from __future__ import annotations

import os
from pathlib import Path

from steprun_widgets.core.runs import StepRun
from steprun_widgets.errors import StepRunError, redact


def working_folder_target(folder: str, cwd: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """The kernel's working folder and ``folder`` resolved inside it; refuses a place outside."""
    base = Path(cwd if cwd is not None else os.getcwd()).resolve()
    if not isinstance(folder, str):
        raise StepRunError("Save into the kernel's folder: the folder must be text, got "
                           f"{type(folder).__name__}")
    target = (base / folder).resolve()
    if target != base and base not in target.parents:
        raise StepRunError(f"Save into the kernel's folder: {folder!r} is outside the kernel's working "
                           f"folder {str(base)!r}")
    return base, target


def save_output_locally(step_run: StepRun, output_name: str, folder: str = "", *,
                        cwd: str | os.PathLike | None = None) -> dict:
    """Download one output into ``folder`` under the kernel's working folder.

    Returns the ``save_local_done`` message (``path`` relative to the working folder: the file
    for a one-file output, else its folder; ``bytes`` written), or ``save_local_error`` with a
    message that names the output and never a secret.
    """
    try:
        base, target = working_folder_target(folder, cwd)
        output = step_run.get_output(output_name)
        there = target / output_name  # where download() writes (a folder, or the one file)
        if there.exists():
            raise StepRunError(f"{there.relative_to(base).as_posix()!r} is already in the kernel's "
                               "working folder: remove it to save again")
        # flat: a click saves "<output name>/" beside the notebook, not Azure ML's deep layout
        written = Path(step_run.get_output_data(output_name).download(local_path=target,
                                                                         show_progress=False,
                                                                         flat=True))
        files = [p for p in written.rglob("*") if p.is_file()] if written.is_dir() else [written]
        shown = files[0] if written.is_dir() and len(files) == 1 else written
        path = shown.resolve().relative_to(base).as_posix() + ("/" if shown.is_dir() else "")
        return {"type": "save_local_done", "output": output_name, "path": path,
                "abs_path": str(shown.resolve()), "bytes": output.size}
    except Exception as exc:  # the widget says why; nothing else breaks
        reason = str(exc) if isinstance(exc, StepRunError) else f"{type(exc).__name__}: {exc}"
        return {"type": "save_local_error", "output": output_name,
                "message": redact(f"Saving {output_name!r} into the kernel's folder failed: {reason}")[:500]}


__all__ = ["save_output_locally", "working_folder_target"]
