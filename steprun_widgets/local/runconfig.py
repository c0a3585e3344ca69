"""``runconfig=``: what an Azure ML v1 RunConfiguration means for a step of the local runner.

What maps:

- ``environment_variables`` / ``environment.environment_variables``: set in the step's process;
- ``environment.python.interpreter_path``: the Python the script runs with (a path to a conda
  env's or a venv's ``python``, or the env/venv folder itself);
- ``environment.python.conda_dependencies`` (``CondaDependencies.create(conda_packages=...,
  pip_packages=..., python_version=...)``): nothing is installed; at submission the step's
  Python is checked to have each package at a version its pin allows (pip's ``==``/``>=``...,
  conda's ``=1.2`` meaning 1.2.*) and the Python version, a clear error otherwise;
- ``target``: the step's compute target when it has no ``compute_target=``.

What does not: Docker (``environment.docker.enabled``, ``base_image``) is not used, steps run
without a container, and the submission warns so (``RunConfigWarning``); distributed settings
(``node_count`` > 1, ``communicator``, MPI), Spark, ``data_references``/``data`` and
``max_run_duration_seconds`` are a clear error. The same attribute names are read from a real
``azureml.core.runconfig.RunConfiguration``, so a v1 object works too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steprun_widgets.errors import StepRunError

#: Azure ML's default CPU image name; accepted so sample code runs, never pulled (no Docker).
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"


class RunConfigError(StepRunError):
    """A run configuration setting that does not map onto the local runner."""


class RunConfigWarning(UserWarning):
    """A run configuration setting that the local runner does not use (it does not change results)."""


class _Settings:
    """A settings group whose attributes are fixed: setting an unknown one is a clear error."""

    _fields: tuple[str, ...] = ()
    _where = "RunConfiguration"

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._fields:
            raise RunConfigError(
                f"{self._where}.{key} is not a setting the local runner knows; see "
                "docs/migration-from-azureml-v1.md for what maps (environment variables, the "
                "Python interpreter, conda/pip packages to check)")
        object.__setattr__(self, key, value)


class DockerSection(_Settings):
    _fields = ("enabled", "base_image", "shm_size", "arguments", "use_docker")
    _where = "RunConfiguration.environment.docker"

    def __init__(self) -> None:
        self.enabled = False
        self.base_image = None
        self.shm_size = None
        self.arguments = None
        self.use_docker = None


class PythonSection(_Settings):
    _fields = ("interpreter_path", "user_managed_dependencies", "conda_dependencies",
               "conda_dependencies_file")
    _where = "RunConfiguration.environment.python"

    def __init__(self) -> None:
        self.interpreter_path = "python"
        self.user_managed_dependencies = False
        self.conda_dependencies = None
        self.conda_dependencies_file = None


class EnvironmentSection(_Settings):
    _fields = ("name", "version", "python", "docker", "environment_variables", "spark")
    _where = "RunConfiguration.environment"

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.version = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables = {}
        self.spark = None


class RunConfiguration(_Settings):
    """The part of Azure ML's RunConfiguration that means something to the local runner."""

    _fields = ("environment", "environment_variables", "target", "node_count", "communicator",
               "framework", "data_references", "data", "max_run_duration_seconds", "script",
               "arguments")

    def __init__(self, script: str | None = None, arguments: list | None = None,
                 framework: str | None = None, communicator: str | None = None,
                 conda_dependencies: CondaDependencies | None = None) -> None:
        self.environment = EnvironmentSection()
        self.environment_variables = {}
        self.target = "local"
        self.node_count = 1
        self.communicator = communicator or "None"
        self.framework = framework or "Python"
        self.data_references = {}
        self.data = {}
        self.max_run_duration_seconds = None
        self.script = script
        self.arguments = list(arguments or [])
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies


class CondaDependencies:
    """The packages a step needs: checked in the step's Python at submission, never installed."""

    def __init__(self, conda_dependencies_file_path: str | os.PathLike | None = None) -> None:
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.python_version: str | None = None
        if conda_dependencies_file_path is not None:
            self._read_file(Path(conda_dependencies_file_path))

    @staticmethod
    def create(pip_packages: list[str] | None = None, conda_packages: list[str] | None = None,
               python_version: str | None = None, pin_sdk_version: bool = True,
               pip_indexurl: str | None = None, channels: list[str] | None = None) -> CondaDependencies:
        """As in Azure ML v1; ``pin_sdk_version``, ``pip_indexurl`` and ``channels`` only concern
        installing, which the local runner does not do (the packages must be there already)."""
        deps = CondaDependencies()
        deps.pip_packages = [str(p) for p in pip_packages or []]
        deps.conda_packages = [str(p) for p in conda_packages or []]
        deps.python_version = str(python_version) if python_version else None
        return deps

    def add_conda_package(self, conda_package: str) -> None:
        self.conda_packages.append(str(conda_package))

    def add_pip_package(self, pip_package: str) -> None:
        self.pip_packages.append(str(pip_package))

    def _read_file(self, path: Path) -> None:
        import yaml

        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RunConfigError(f"conda dependencies file {str(path)!r} cannot be read: {exc}") from None
        for dep in spec.get("dependencies", []) or []:
            if isinstance(dep, dict):
                self.pip_packages.extend(str(p) for p in dep.get("pip", []) or [])
            elif str(dep).split("=")[0].strip() == "python":
                self.python_version = str(dep).split("=", 1)[1].lstrip("=") if "=" in str(dep) else None
            else:
                self.conda_packages.append(str(dep))

    def packages(self) -> list[str]:
        """Distribution names to look for (version pins and conda channels dropped; ``pip`` and
        the SDK's own ``azureml-*`` packages, which the local runner does not need, left out)."""
        return list(self.pins())

    def pins(self) -> dict[str, str]:
        """Distribution name → the versions it may have, as a PEP 440 specifier ("" for any).

        pip specs are read as pip does (``pyarrow==14.0.2``, ``pandas>=2,<3``); conda specs as
        conda does (``numpy=1.21`` is any 1.21.x, ``numpy=1.21.2=py_0`` that version,
        ``numpy 1.21.*``, ``conda-forge::numpy>=1``).
        """
        found: dict[str, str] = {}
        specs = [*((s, True) for s in self.conda_packages), *((s, False) for s in self.pip_packages)]
        for spec, conda in specs:
            text = spec.split("::")[-1].strip()
            name = re.split(r"[<>=!~\[ ;]", text, maxsplit=1)[0].strip()
            if not name or name in ("pip", "python") or name.startswith("azureml"):
                continue
            found[name] = _conda_specifier(text[len(name):]) if conda else _pip_specifier(spec, name)
        return found


def _pip_specifier(spec: str, name: str) -> str:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return str(Requirement(spec).specifier)
    except InvalidRequirement:
        raise RunConfigError(f"pip package {spec!r} is not a valid requirement (for {name!r})") from None


def _conda_specifier(rest: str) -> str:
    rest = rest.strip()
    if not rest:
        return ""
    if rest.startswith("=") and not rest.startswith("=="):  # name=1.2[=build]: conda's "1.2.*"
        version = rest[1:].split("=")[0].strip()
        exact = rest.count("=") > 1
        return f"=={version}" if exact or version.endswith("*") else f"=={version}.*"
    if rest[0].isdigit():  # "name 1.2.*" (space): conda's match spec
        return f"=={rest.replace(' ', '')}"
    return rest.replace(" ", "")


@dataclass
class StepEnvironment:
    """What a step's run configuration means here: its variables, its Python, what to check."""

    environment: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    packages: list[str] = field(default_factory=list)
    #: Package name → PEP 440 specifier its installed version must satisfy ("" for any).
    pins: dict[str, str] = field(default_factory=dict)
    python_version: str | None = None
    target: Any = None
    notes: list[str] = field(default_factory=list)


def map_runconfig(runconfig: Any, owner: str) -> StepEnvironment:
    """Read a RunConfiguration (ours or Azure ML's); errors for settings that do not map."""
    mapped = StepEnvironment()
    if runconfig is None:
        return mapped
    kind = type(runconfig).__name__
    if kind in ("ScriptRunConfig", "Environment", "HyperDriveConfig", "AutoMLConfig",
                "ParallelRunConfig", "EstimatorStep"):
        raise RunConfigError(
            f"{owner}: runconfig is a {kind}; the local runner takes a RunConfiguration (environment "
            "variables, Python interpreter, packages to check). For a ScriptRunConfig's command use "
            "CommandStep(command=..., source_directory=...)")
    if not hasattr(runconfig, "environment"):
        raise RunConfigError(f"{owner}: runconfig {runconfig!r} is not a RunConfiguration")
    env = runconfig.environment
    variables = {**dict(getattr(env, "environment_variables", None) or {}),
                 **dict(getattr(runconfig, "environment_variables", None) or {})}
    for key, value in variables.items():
        if not isinstance(key, str) or not isinstance(value, str | int | float | bool):
            raise RunConfigError(f"{owner}: environment variable {key!r} must map a name to a "
                                 f"string, got {value!r}")
    mapped.environment = {k: str(v) for k, v in variables.items()}
    python = getattr(env, "python", None)
    interpreter = getattr(python, "interpreter_path", None) or "python"
    if interpreter != "python":
        mapped.python = _interpreter(interpreter, owner)
    deps = getattr(python, "conda_dependencies", None)
    if deps is not None:
        if not callable(getattr(deps, "packages", None)) and hasattr(deps, "conda_packages"):
            names = [*deps.conda_packages, *getattr(deps, "pip_packages", [])]
            deps = CondaDependencies.create(conda_packages=list(names))
        mapped.packages = deps.packages()
        if callable(getattr(deps, "pins", None)):
            mapped.pins = {n: s for n, s in deps.pins().items() if s}
        mapped.python_version = getattr(deps, "python_version", None)
    target = getattr(runconfig, "target", None)
    mapped.target = None if target in (None, "local") else target
    _refuse(runconfig, env, owner)
    docker = getattr(env, "docker", None)
    if docker is not None and (getattr(docker, "enabled", False) or getattr(docker, "base_image", None)
                               not in (None, DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE)):
        mapped.notes.append(f"{owner}: runconfig asks for Docker "
                            f"(base_image {getattr(docker, 'base_image', None)!r}); the local runner "
                            "runs the script without a container, in the step's Python")
    return mapped


def _refuse(runconfig: Any, env: Any, owner: str) -> None:
    node_count = getattr(runconfig, "node_count", 1) or 1
    if node_count != 1:
        raise RunConfigError(f"{owner}: runconfig.node_count={node_count} is not supported: a step "
                             "runs as one process; split the work into steps or run it on a Dask "
                             "cluster (compute_target=<Dask Client>)")
    communicator = getattr(runconfig, "communicator", "None")
    if communicator not in (None, "None", "none"):
        raise RunConfigError(f"{owner}: runconfig.communicator={communicator!r} (distributed "
                             "training) is not supported: a step runs as one process")
    framework = getattr(runconfig, "framework", "Python")
    if framework not in (None, "Python", "python"):
        raise RunConfigError(f"{owner}: runconfig.framework={framework!r} is not supported: steps "
                             "run Python scripts (or a CommandStep's command)")
    for attr in ("data_references", "data"):
        if getattr(runconfig, attr, None):
            raise RunConfigError(f"{owner}: runconfig.{attr} is not supported: pass data between "
                                 "steps with PipelineData, and other paths as string arguments")
    if getattr(runconfig, "max_run_duration_seconds", None):
        raise RunConfigError(f"{owner}: runconfig.max_run_duration_seconds is not supported: cancel "
                             "a run that takes too long with pipeline_run.cancel()")
    if getattr(env, "spark", None) and getattr(getattr(env, "spark", None), "repositories", None):
        raise RunConfigError(f"{owner}: runconfig.environment.spark is not supported: steps do not "
                             "run on Spark")


def _interpreter(path: str, owner: str) -> str:
    candidate = Path(os.path.expanduser(path))
    if candidate.is_dir():  # a conda env or a venv folder
        for sub in ("bin/python", "bin/python3", "python.exe", "Scripts/python.exe"):
            if (candidate / sub).is_file():
                return str((candidate / sub).absolute())
        raise RunConfigError(f"{owner}: environment.python.interpreter_path {path!r} is a folder "
                             "without bin/python (not a conda env or venv)")
    if not candidate.is_file() or not os.access(candidate, os.X_OK):
        raise RunConfigError(f"{owner}: environment.python.interpreter_path {path!r} is not an "
                             "executable Python (give the path of a conda env's or venv's python)")
    return str(candidate.absolute())


_PROBE = """
import importlib.metadata as m, json, sys
missing, versions = [], {}
for name in json.loads(sys.argv[1]):
    try:
        versions[name] = m.distribution(name).version
    except m.PackageNotFoundError:
        missing.append(name)
print(json.dumps({"missing": missing, "versions": versions, "version": "%d.%d.%d" % sys.version_info[:3]}))
"""


def check_environment(mapped: StepEnvironment, owner: str) -> None:
    """Check that the step's Python has the packages and version its run configuration asks for."""
    for note in mapped.notes:
        warnings.warn(note, RunConfigWarning, stacklevel=6)  # the caller of Experiment.submit
    if not mapped.packages and not mapped.python_version:
        return
    python = mapped.python or sys.executable
    try:
        done = subprocess.run([python, "-c", _PROBE, json.dumps(mapped.packages)],
                              capture_output=True, text=True, timeout=120, check=True)
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise RunConfigError(f"{owner}: cannot check the packages of Python {python!r}: "
                             f"{type(exc).__name__}") from None
    if found["missing"]:
        raise RunConfigError(
            f"{owner}: the step's Python {python!r} lacks package {found['missing'][0]!r} that its "
            "runconfig's conda_dependencies list (the local runner installs nothing): install it "
            "there, or set runconfig.environment.python.interpreter_path to a Python that has it")
    _check_pins(mapped.pins, found.get("versions", {}), python, owner)
    wanted = mapped.python_version
    if wanted and not (found["version"] + ".").startswith(wanted.rstrip(".") + "."):
        raise RunConfigError(
            f"{owner}: conda_dependencies asks for Python {wanted}, the step's Python {python!r} "
            f"is {found['version']}: set runconfig.environment.python.interpreter_path to a "
            f"Python {wanted}")


def _check_pins(pins: dict[str, str], versions: dict[str, str], python: str, owner: str) -> None:
    """A package installed at a version its pin does not allow is an error naming both versions."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    for name, spec in pins.items():
        if name not in versions:
            continue
        try:
            allowed = SpecifierSet(spec)
        except InvalidSpecifier:
            raise RunConfigError(f"{owner}: the version pin {spec!r} of package {name!r} in its "
                                 "runconfig's conda_dependencies cannot be read") from None
        try:
            ok = allowed.contains(Version(versions[name]), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            raise RunConfigError(
                f"{owner}: its runconfig's conda_dependencies pin {name}{spec}, the step's Python "
                f"{python!r} has {name} {versions[name]} (the local runner installs nothing): install "
                f"{name}{spec} there, change the pin, or set runconfig.environment.python.interpreter_path "
                "to a Python that has it")
