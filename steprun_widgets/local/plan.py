"""The plan a submission hands to the runner: plain data, saved as JSON next to the run's work."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from steprun_widgets.local.workarea import Retention

#: Environment variables through which the runner receives the tracking server's credentials (never a
#: file or its command line, which other users of the machine can read).
TOKEN_ENV = "STEPRUN_RUNNER_TOKEN"
USERNAME_ENV = "STEPRUN_RUNNER_USERNAME"
PASSWORD_ENV = "STEPRUN_RUNNER_PASSWORD"
#: The submitter's umask, which the runner (itself ``077`` on the embedded default) gives the steps back.
STEP_UMASK_ENV = "STEPRUN_STEP_UMASK"


@dataclass(frozen=True)
class RunnerCredentials:
    """What the runner signs in to the tracking server with (a token, or a user name and password).

    Its repr shows no secret. It travels to the runner in the runner's environment, and to a Dask worker
    as an argument of the step's task, never in the plan file.
    """

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values (a step's environment must hold none of them)."""
        return tuple(s for s in (self.token, self.password) if s)

    def to_environment(self, env: MutableMapping[str, str]) -> None:
        """Put these credentials into ``env`` (a child's environment), replacing any there."""
        for name, value in ((TOKEN_ENV, self.token), (USERNAME_ENV, self.username),
                            (PASSWORD_ENV, self.password)):
            env.pop(name, None)
            if value:
                env[name] = value

    @classmethod
    def pop_environment(cls, env: MutableMapping[str, str] = os.environ) -> RunnerCredentials:
        """The credentials in ``env``, removed from it (the steps' environment must not gain them)."""
        return cls(token=env.pop(TOKEN_ENV, None) or None, username=env.pop(USERNAME_ENV, None) or None,
                   password=env.pop(PASSWORD_ENV, None) or None)


@dataclass
class InputPlan:
    data: str
    #: Step that produces the data, and the run whose ``outputs/<data>`` holds it (the original
    #: run when that step was reused).
    producer: str
    producer_run_id: str
    #: The output's name on the producer's run (``PipelineData.output_name``) when not ``data``.
    output: str | None = None

    @property
    def artifact_name(self) -> str:
        return self.output or self.data


@dataclass
class StepPlan:
    name: str
    node_id: str
    run_id: str
    script_name: str
    #: Strings, and ``{"data": name}`` where a PipelineData's folder path goes.
    arguments: list
    inputs: list[InputPlan]
    outputs: list[str]
    source_directory: str
    reused: bool = False
    reuse_key: str | None = None
    #: Steps this one runs after without data between them (``step.run_after(other)``).
    after: list[str] = field(default_factory=list)
    #: True for a CommandStep: ``arguments`` are the whole argv (no ``python script`` before them).
    command: bool = False
    #: Environment variables the step's run configuration sets, and the Python it runs with.
    environment: dict[str, str] = field(default_factory=dict)
    python: str | None = None
    #: Datastore references and datasets the step reads: ``{"name", "mode", "kind", "sources",
    #: "definition", ...}`` (``step_input()`` of steprun_widgets.local.step_data's forms).
    data_inputs: list[dict] = field(default_factory=list)
    #: Output name -> what happens to it once uploaded: ``{"destination": [datastore, path],
    #: "registration": {...}}`` (OutputFileDatasetConfig).
    output_datasets: dict[str, dict] = field(default_factory=dict)

    @property
    def depends_on(self) -> set[str]:
        return {i.producer for i in self.inputs} | set(self.after)


@dataclass
class PipelinePlan:
    tracking_uri: str
    experiment_id: str
    pipeline_run_id: str
    steps: list[StepPlan]
    work_dir: str
    #: The folder behind the server's ``mlflow-artifacts:/`` URIs when it is on this machine.
    local_artifacts: str | None = None
    #: Address of a Dask scheduler to run steps on, or None for local processes.
    dask_address: str | None = None
    max_parallel: int = field(default_factory=lambda: os.cpu_count() or 1)
    python: str = ""
    #: The embedded default (``Workspace.local``): each step gets a sign-in of its own for plain ``mlflow``
    #: calls (see ``steprun_widgets.local.step_access``).
    embedded: bool = False
    #: The embedded server's root folder: a runner that loses its server re-reads the root's server
    #: record (``server.json``) to find it again, on another port if it was restarted on one.
    server_root: str | None = None
    #: How many failed runs' folders are kept for debugging, and for how many days at most: read
    #: from the submitter's environment (``STEPRUN_KEEP_FAILED[_DAYS]``) when the plan is made, so
    #: that the runner and every Dask worker apply the same bound.
    keep_failed: int = field(default_factory=lambda: Retention.from_env().count)
    keep_failed_days: float = field(default_factory=lambda: Retention.from_env().days)

    @property
    def retention(self) -> Retention:
        return Retention(self.keep_failed, self.keep_failed_days)

    def step(self, name: str) -> StepPlan:
        return next(s for s in self.steps if s.name == name)

    def dependents(self, name: str) -> set[str]:
        """Every step downstream of ``name`` (transitively)."""
        found: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {s.name for s in self.steps if s.depends_on & frontier} - found
            found |= frontier
        return found

    def save(self, path: Path) -> None:
        """Write the plan atomically (temp file + rename), readable only by its owner."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan.", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, indent=1)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> PipelinePlan:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        raw["steps"] = [StepPlan(**{**s, "inputs": [InputPlan(**i) for i in s["inputs"]]})
                        for s in raw["steps"]]
        return cls(**raw)


#: Environment of a step's process, set by the runner: the step's channel file (what
#: ``Run.get_context()`` hands records over) and the step's run id.
CONTEXT_ENV = "STEPRUN_CONTEXT"
#: Environment of a step's process: JSON {input name: {"path", "mode", "kind", "definition"}}, what
#: ``Run.get_context().input_datasets`` reads.
INPUT_DATASETS_ENV = "STEPRUN_INPUT_DATASETS"
RUN_ID_ENV = "STEPRUN_RUN_ID"
