"""Hatch build hook: builds the frontend bundle from js/ when it is missing.

The built bundle (``steprun_widgets/widgets/static/``) is committed and shipped in the sdist, so
building a wheel needs no Node.js. A packager who rebuilds from source removes that folder first:
then this hook runs ``npm ci`` and ``npm run build`` in ``js/`` (Node.js 20 or newer), and the wheel
holds a bundle built from the sdist's own ``js/src``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = ("loader.js", "step_widget.js", "step_widget.css", "pipeline_widget.js", "pipeline_widget.css")


class FrontendBuildHook(BuildHookInterface):
    PLUGIN_NAME = "frontend"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        static = root / "steprun_widgets" / "widgets" / "static"
        missing = [name for name in BUNDLE if not (static / name).is_file()]
        if not missing:
            return
        js = root / "js"
        npm = shutil.which("npm")
        if npm is None or not (js / "build.mjs").is_file():
            raise RuntimeError(
                f"the frontend bundle is missing ({', '.join(missing)} in {static}) and cannot be built: "
                + ("npm is not on PATH (install Node.js 20 or newer)" if npm is None
                   else f"{js / 'build.mjs'} is not there"))
        self.app.display_info(f"Building the frontend bundle in {js} (npm ci, npm run build)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=js, check=True)
        subprocess.run([npm, "run", "build"], cwd=js, check=True)
        still_missing = [name for name in BUNDLE if not (static / name).is_file()]
        if still_missing:
            raise RuntimeError(f"npm run build did not write {', '.join(still_missing)} in {static}")
