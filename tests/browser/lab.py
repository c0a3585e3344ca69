"""A real JupyterLab and a real headless Chromium for browser tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.mlflow_server import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1, token-less, serving ``root``; stopped by ``stop()``.

    ``app="notebook"`` serves Notebook 7 instead (the same server, Lab's settings folder).
    """

    def __init__(self, root: Path, env: dict[str, str], app: str = "jupyterlab") -> None:
        self.root = root
        # Own settings and workspaces: no restored tabs from other runs, a fixed light theme
        # (not the system's), and no news prompt covering the page.
        settings = root.parent / f"{root.name}-settings"
        env = {**env, "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(root.parent / f"{root.name}-workspaces")}
        _write_settings(settings, "@jupyterlab/apputils-extension", "themes",
                        {"theme": "JupyterLab Light", "adaptive-theme": False})
        _write_settings(settings, "@jupyterlab/apputils-extension", "notification",
                        {"fetchNews": "false", "checkForUpdates": False})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "jupyterlab.log"
        cmd = [sys.executable, "-m", app, "--allow-root", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--IdentityProvider.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", "--ServerApp.disable_check_xsrf=True",
               "--LabApp.news_url=", "--LabApp.collaborative=False",
               # window.jupyterapp: lets a test wait for the notebook's kernel (wait_for_kernel)
               f"--{'JupyterNotebookApp' if app == 'notebook' else 'LabApp'}.expose_app_in_browser=True"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=root,
                                     start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/api/status", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("jupyter lab did not start in 90 s")

    def set_theme(self, theme: str) -> None:
        """Choose the Lab theme through the settings API (applies on the next page load)."""
        raw = json.dumps({"theme": theme, "adaptive-theme": False})
        url = f"{self.url}/lab/api/settings/@jupyterlab/apputils-extension:themes"
        requests.put(url, json={"raw": raw}, timeout=10).raise_for_status()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (kernel starts, restarts and deaths show there)."""
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server and the kernels it started
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def _write_settings(folder: Path, extension: str, plugin: str, values: dict) -> None:
    target = folder / extension / f"{plugin}.jupyterlab-settings"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(values), encoding="utf-8")


def write_notebook(path: Path, cells: list[str]) -> Path:
    """A notebook of code cells with a kernelspec, so Lab never asks which kernel to use."""
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": source} for source in cells],
          "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def accept_kernel_dialog(page) -> None:
    """Lab sometimes asks which kernel to use despite the kernelspec; take the one it proposes."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.locator("button", has_text="Select").first.click()


def wait_for_kernel(page, timeout_ms: int = 90_000) -> None:
    """Wait until the open notebook's kernel is connected and idle.

    Asking to run cells before that makes Lab ask which kernel to use (or drop the request); on a
    loaded machine a kernel can take longer than one "Run All" attempt to start, and accepting
    that dialog then replaces the kernel that was still starting, again and again.
    """
    page.wait_for_function(
        "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.kernelDisplayStatus === 'idle'",
        timeout=timeout_ms)


def run_all_cells(page, url: str, timeout_ms: int = 90_000) -> None:
    """Open a notebook in Lab and run all its cells with the Run menu, as a user would.

    ``?reset`` starts from an empty workspace: Lab would otherwise reopen the notebooks of earlier
    tests beside this one, and their cells would be counted (or run) instead of this one's.
    """
    page.goto(url + ("&" if "?" in url else "?") + "reset")
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    page.wait_for_selector(f"{panel} .jp-Notebook .jp-Cell", timeout=timeout_ms)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_ms)
    prompts = page.locator(f"{panel} .jp-Notebook .jp-CodeCell .jp-InputPrompt")
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        accept_kernel_dialog(page)
        wait_for_kernel(page, max(1_000, int((deadline - time.monotonic()) * 1000)))
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        # Every code cell is queued or ran once its prompt is no longer "[ ]"; a page whose kernel
        # was still connecting may have dropped the command, so try again.
        settle = time.monotonic() + 10
        while time.monotonic() < settle:
            accept_kernel_dialog(page)
            texts = prompts.all_inner_texts()
            # no prompts found (the notebook still rendering) is not "all ran": all([]) is True
            if texts and all("[ ]" not in text for text in texts):
                return
            time.sleep(0.3)
    raise AssertionError(f"cells did not run: prompts {prompts.all_inner_texts()}")


def run_until(page, url: str, selector: str, attempts: int = 3, timeout_s: float = 90) -> None:
    """Run a notebook's cells (``run_all_cells``) until ``selector`` shows on the page.

    On a loaded machine Lab sometimes replaces the kernel it started while the cells run, or
    drops the queued cells while its kernel connection starts (the prompts show "[ ]" again and
    nothing ran, or the cells never get a kernel that stays): the notebook is then opened and run
    once more, up to ``attempts`` times.
    """
    for attempt in range(attempts):
        try:
            run_all_cells(page, url)
            page.locator(selector).first.wait_for(timeout=timeout_s * 1000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
