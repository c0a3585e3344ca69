"""The parts of a step's reuse key and the reuse decision, made once for a submission and for a dry run.

``decide_steps`` walks the pipeline in order and, per step, computes the key (``reuse.reuse_key``,
unchanged), looks for a Finished run with that key, and finds the earlier run of the same step name
it is compared with when it must run. Submission records each decision on the step's run
(``layout.REUSE_RECORD_PATH``); ``Pipeline.explain_reuse`` makes the same decisions without
creating anything. The record's format and the sentences are the core's (``core/reuse_explain.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steprun_widgets.core import layout
from steprun_widgets.core import reuse_explain as rx
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.local.command_step import CommandStep
from steprun_widgets.local.parameters import PipelineParameter, as_argument
from steprun_widgets.local.pipeline import PipelineStep, PythonScriptStep
from steprun_widgets.local.reuse import IGNORED_DIRS, reuse_key, source_digest

if TYPE_CHECKING:
    from steprun_widgets.core.experiment import Experiment
    from steprun_widgets.local.pipeline import Pipeline

#: Per-file digests are recorded for at most this many files of a source folder (the folder's
#: digest always covers all of them); line hashes for text files up to this size and line count.
MAX_FILES = 2000
MAX_LINES_FILE_BYTES = 256 * 1024
MAX_LINES = 5000
#: Hex digits of a line hash: collisions between two lines of one file are what would miscount.
LINE_HASH_HEX = 8


def source_files(folder: Path) -> tuple[dict[str, dict], bool]:
    """``{relative path: {"sha": ..., "lines": [...]}}`` of the files under ``folder`` (the files
    ``reuse.source_digest`` covers), and whether every file is listed (``MAX_FILES``)."""
    files: dict[str, dict] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for filename in sorted(filenames):
            if len(files) >= MAX_FILES:
                return files, False
            path = Path(dirpath) / filename
            digest = hashlib.sha256()
            small = bytearray()  # the bytes of a file small enough for line hashes
            with open(path, "rb") as f:  # streamed: a large data file is never held whole
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
                    if len(small) <= MAX_LINES_FILE_BYTES:
                        small += block
            entry: dict[str, Any] = {"sha": digest.hexdigest()[:32]}
            lines = _line_hashes(bytes(small))
            if lines is not None:
                entry["lines"] = lines
            files[path.relative_to(folder).as_posix()] = entry
    return files, True


def _line_hashes(data: bytes) -> list[str] | None:
    if len(data) > MAX_LINES_FILE_BYTES or b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        return None
    return [hashlib.sha256(line.encode()).hexdigest()[:LINE_HASH_HEX] for line in lines]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class StepDecision:
    """What submission decided for one step: run it (``original`` None) or reuse ``original``."""

    name: str
    key: str
    arguments: list
    #: (artifact name, producer run id) of each input, as the key has them.
    input_runs: list[tuple[str, str]]
    original: RunRecord | None
    record: dict

    @property
    def reused(self) -> bool:
        return self.original is not None


class KeyMaker:
    """Decides reuse for the steps of one submission, in topological order.

    ``new_run_id(step name)`` gives the run id a step that runs gets (the submission creates it;
    a dry run returns None). Source folders are digested once each.
    """

    def __init__(self, rest: MlflowRest, experiment_id: str | None, values: Mapping[str, Any],
                 reuse: bool = True) -> None:
        self.rest = rest
        self.experiment_id = experiment_id
        self.values = values
        self.reuse = reuse
        self._sources: dict[Path, tuple[str, dict, bool]] = {}
        self.decisions: dict[str, StepDecision] = {}
        self.producer_of: dict[str, str] = {}
        self._compared: dict[str, dict | None] = {}

    def source(self, folder: Path) -> tuple[str, dict, bool]:
        folder = folder.resolve()
        if folder not in self._sources:
            files, complete = source_files(folder)
            self._sources[folder] = (source_digest(folder), files, complete)
        return self._sources[folder]

    def decide(self, step: PipelineStep, input_runs: list[tuple[str, str | None]],
               data_identity: list | None = None) -> StepDecision:
        """The key and decision of ``step``; ``input_runs`` are (artifact name, producer run id or
        None when the producer runs in a dry run), in the order of ``step.inputs``;
        ``data_identity`` what decides reuse for its datastore and dataset inputs."""
        for data in step.outputs:
            self.producer_of[data.name] = step.name
        digest, files, complete = self.source(step.source_directory)
        template = step.argv_template() if isinstance(step, CommandStep) else step.arguments
        arguments = [self._argument(a, step) for a in template]
        script = step.script_name if isinstance(step, PythonScriptStep) else ""
        key_inputs = [(name, run or "") for name, run in input_runs]
        identity = step.reuse_identity()
        if data_identity:
            identity = {**identity, "data": data_identity}
        key = reuse_key(digest, script, arguments, key_inputs, identity)
        inputs = []
        for data, (_, run) in zip(step.inputs, input_runs, strict=True):
            producer = self.producer_of.get(data.name, "")
            upstream = self.decisions.get(producer)
            inputs.append({"data": data.name, "producer": producer, "run": run,
                           "producer_ran": bool(upstream is not None and not upstream.reused)})
        parts = {
            "source": digest, "files": files, "files_complete": complete, "script": script,
            "arguments": arguments,
            "argument_parameters": [a.name if isinstance(a, PipelineParameter) else None for a in template],
            "parameters": {a.name: as_argument(self.values[a.name]) for a in template
                           if isinstance(a, PipelineParameter)},
            "inputs": inputs,
            "environment": {k: _digest(v) for k, v in identity.items()},
            "allow_reuse": step.allow_reuse,
        }
        record: dict[str, Any] = {"format": rx.FORMAT, "step": step.name, "parts": parts}
        original = None
        if not step.allow_reuse:
            why = rx.WHY_ALLOW_REUSE
        elif not self.reuse:
            why = rx.WHY_REGENERATE
        else:
            # an input made by a step that runs now is new data: no earlier run can match
            fresh = any(i["producer_ran"] for i in inputs) or not all(run for _, run in input_runs)
            original = None if fresh else self._find_reusable(key)
            why = rx.WHY_REUSED if original is not None else rx.WHY_CHANGED
        if original is not None:
            record.update(decision=rx.DECISION_REUSED, why=why, reused_run=original.run_id,
                          reused_pipeline=original.tags.get(layout.TAG_PIPELINE, ""))
        else:
            record["decision"] = rx.DECISION_RAN
            if why == rx.WHY_CHANGED:
                earlier = self._earlier_run(step.name)
                if earlier is None:
                    why = rx.WHY_FIRST
                else:
                    record.update(compared_run=earlier.run_id,
                                  compared_pipeline=earlier.tags.get(layout.TAG_PIPELINE, ""))
            record["why"] = why
        decision = StepDecision(step.name, key, arguments, key_inputs, original, record)
        self.decisions[step.name] = decision
        return decision

    def explain(self, decision: StepDecision) -> str:
        """The sentence for a decision (reads the record of the run it was compared with, once)."""
        earlier = decision.record.get("compared_run")
        if earlier and earlier not in self._compared:
            self._compared[earlier] = rx.compared_record(self.rest, earlier)
        return rx.explain(decision.record, self._compared.get(earlier) if earlier else None)

    def _argument(self, arg: Any, step: PipelineStep) -> Any:
        """A step argument as the plan holds it: ``{"data": folder key}``, or a string."""
        key = step.argument_key(arg)
        if key is not None:
            return {"data": key}
        if isinstance(arg, PipelineParameter):
            return as_argument(self.values[arg.name])
        return str(arg)

    def _find_reusable(self, key: str) -> RunRecord | None:
        """The newest Finished run of the experiment with this reuse key, if any."""
        if self.experiment_id is None:
            return None
        found = self.rest.search_runs(
            [self.experiment_id],
            f"tags.`{layout.TAG_REUSE_KEY}` = '{key}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"], max_results=1)
        return found[0] if found else None

    def _earlier_run(self, step_name: str) -> RunRecord | None:
        """The newest Finished run of a step of this name that ran (not a reused placeholder):
        what a run is compared with to name what changed."""
        if self.experiment_id is None:
            return None
        quoted = step_name.replace("'", "\\'")
        found = self.rest.search_runs(
            [self.experiment_id],
            f"tags.`{layout.TAG_RUN_NAME}` = '{quoted}' and tags.`{layout.TAG_REUSE_KEY}` LIKE '%' "
            "and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"], max_results=1)
        return found[0] if found else None


def dry_run(experiment: Experiment, pipeline: Pipeline, *,
            pipeline_parameters: Mapping[str, Any] | None = None,
            regenerate_outputs: bool = False) -> dict[str, str]:
    """``{step name: sentence}``: what submitting ``pipeline`` to ``experiment`` now would run or
    reuse, and why, without creating anything (not even the experiment)."""
    from steprun_widgets.local.parameters import resolve_values

    pipeline.validate()
    order = pipeline.topological_order()
    values = resolve_values(pipeline.parameters(), pipeline_parameters)
    rest = experiment.workspace.rest
    found = rest.get_experiment_by_name(experiment.name)
    experiment_id = str(found["experiment_id"]) if found else None
    keys = KeyMaker(rest, experiment_id, values, reuse=not regenerate_outputs)
    producer_of = {d.name: s.name for s in order for d in s.outputs}
    runs: dict[str, str | None] = {}
    explained: dict[str, str] = {}
    for step in order:
        decision = keys.decide(step, [(d.output_name, runs[producer_of[d.name]]) for d in step.inputs])
        runs[step.name] = decision.original.run_id if decision.original is not None else None
        explained[step.name] = keys.explain(decision)
    return explained
