"""Azure ML v1's ``ParallelRunConfig`` and ``ParallelRunStep``: batch inference over a folder of files.

A ParallelRunStep is a step whose process is the driver ``steprun_widgets.local.parallel_run``:
it lists the input folders' files, cuts them into mini-batches (``mini_batch_size`` files, or
bytes when given as "10KB"/"1MB"), starts ``process_count_per_node × node_count`` worker
processes that each call the entry script's ``init()`` once, and calls ``run(mini_batch)`` (a
list of file paths) per mini-batch. See docs/parallel-run-step.md for what maps.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from steprun_widgets.local.command_step import CommandStep
from steprun_widgets.local.pipeline import PipelineData, PipelineDefinitionError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]B?)\s*$", re.I)
OUTPUT_ACTIONS = ("append_row", "summary_only")
DEFAULT_ROW_FILE = "parallel_run_step.txt"


def parse_mini_batch_size(value: Any) -> tuple[str, int]:
    """("files", n) for a count, ("bytes", n) for a size such as "10KB" or "1MB"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return "files", value
    if isinstance(value, str):
        if value.strip().isdigit() and int(value) > 0:
            return "files", int(value)
        match = _SIZE.match(value)
        if match:
            unit = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}[match.group(2)[0].upper()]
            size = int(float(match.group(1)) * unit)
            if size > 0:
                return "bytes", size
    raise PipelineDefinitionError(
        f"ParallelRunConfig: mini_batch_size {value!r} is neither a file count (10, \"10\") nor a size "
        "(\"10KB\", \"1MB\")")


class ParallelRunConfig:
    """How a ParallelRunStep runs (v1's keywords; docs/parallel-run-step.md says what maps).

    ``error_threshold``: failed files ignored before the step fails (-1: all);
    ``allowed_failed_count`` / ``allowed_failed_percent``: failed mini-batches ignored;
    ``run_max_try``: tries of a mini-batch before it counts as failed. ``environment`` is a
    RunConfiguration (or None); ``compute_target`` is "local" or None.
    """

    def __init__(self, entry_script: str, error_threshold: int = -1, output_action: str = "append_row",
                 compute_target: Any = None, node_count: int = 1, process_count_per_node: int | None = None,
                 mini_batch_size: Any = 1, source_directory: str | os.PathLike | None = None,
                 environment: Any = None, logging_level: str = "INFO", run_invocation_timeout: int = 60,
                 run_max_try: int = 3, append_row_file_name: str | None = None,
                 allowed_failed_count: int | None = None, allowed_failed_percent: float | None = None,
                 partition_keys: Sequence[str] | None = None, description: str | None = None) -> None:
        if not isinstance(entry_script, str) or not entry_script:
            raise PipelineDefinitionError(f"ParallelRunConfig: entry_script must be a file name, got "
                                          f"{entry_script!r}")
        if output_action not in OUTPUT_ACTIONS:
            raise PipelineDefinitionError(f"ParallelRunConfig: output_action {output_action!r} is not "
                                          f"one of {', '.join(OUTPUT_ACTIONS)}")
        if partition_keys:
            raise PipelineDefinitionError(
                "ParallelRunConfig: partition_keys need a TabularDataset, which does not map here: "
                "split the input into one folder per partition and give mini_batch_size as a count")
        for name, value in (("node_count", node_count), ("process_count_per_node", process_count_per_node),
                            ("run_max_try", run_max_try)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise PipelineDefinitionError(f"ParallelRunConfig: {name} must be a whole number >= 1, "
                                              f"got {value!r}")
        if not isinstance(error_threshold, int) or error_threshold < -1:
            raise PipelineDefinitionError(f"ParallelRunConfig: error_threshold must be -1 or a count, got "
                                          f"{error_threshold!r}")
        self.entry_script = entry_script
        self.error_threshold = error_threshold
        self.output_action = output_action
        self.compute_target = compute_target
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node or (os.cpu_count() or 1)
        self.mini_batch_size = mini_batch_size
        self.batch_kind, self.batch_value = parse_mini_batch_size(mini_batch_size)
        self.source_directory = source_directory
        self.environment = environment
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name or DEFAULT_ROW_FILE
        self.allowed_failed_count = -1 if allowed_failed_count is None else int(allowed_failed_count)
        self.allowed_failed_percent = (-1.0 if allowed_failed_percent is None
                                       else float(allowed_failed_percent))
        self.description = description

    @property
    def workers(self) -> int:
        return self.process_count_per_node * self.node_count

    #: The settings a published definition keeps (source_directory, environment and
    #: compute_target are kept with the step).
    SETTINGS = ("entry_script", "error_threshold", "output_action", "node_count", "process_count_per_node",
                "mini_batch_size", "logging_level", "run_invocation_timeout", "run_max_try",
                "append_row_file_name", "allowed_failed_count", "allowed_failed_percent", "description")

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.SETTINGS}


def _folder_identity(folder: Path) -> str:
    """A digest of a folder's file list (path, size, mtime): a changed input runs the step again."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            info = path.stat()
            digest.update(f"{path.relative_to(folder).as_posix()}\0{info.st_size}\0{info.st_mtime_ns}\n"
                          .encode())
    return digest.hexdigest()


class ParallelRunStep(CommandStep):
    """Runs an entry script's ``run(mini_batch)`` over the files of its inputs, in parallel.

    ``inputs`` are folders: a PipelineData another step writes, or a local folder path (a string
    or a Path). ``output`` is the PipelineData that receives ``append_row_file_name`` (required
    for ``append_row``). ``arguments`` reach the entry script's ``sys.argv``; ``side_inputs``
    (PipelineData) are given as inputs too, for the script to read by path in its arguments.
    """

    def __init__(self, name: str, parallel_run_config: ParallelRunConfig, inputs: Sequence[Any],
                 output: PipelineData | None = None, side_inputs: Sequence[Any] | None = None,
                 arguments: Sequence[Any] | None = None, allow_reuse: bool = True) -> None:
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise PipelineDefinitionError(f"ParallelRunStep {name!r}: parallel_run_config must be a "
                                          f"ParallelRunConfig, got {parallel_run_config!r}")
        config = parallel_run_config
        if not inputs:
            raise PipelineDefinitionError(f"ParallelRunStep {name!r}: give at least one input folder")
        if config.output_action == "append_row" and output is None:
            raise PipelineDefinitionError(f"ParallelRunStep {name!r}: output_action 'append_row' needs "
                                          "output=PipelineData(...) to write its rows into")
        data_inputs: list[PipelineData] = []
        folders: list[Path] = []
        argv: list[Any] = ["python", "-m", "steprun_widgets.local.parallel_run",
                           "--entry-script", config.entry_script,
                           "--batch-kind", config.batch_kind, "--batch-value", str(config.batch_value),
                           "--workers", str(config.workers), "--run-max-try", str(config.run_max_try),
                           "--error-threshold", str(config.error_threshold),
                           "--allowed-failed-count", str(config.allowed_failed_count),
                           "--allowed-failed-percent", str(config.allowed_failed_percent),
                           "--output-action", config.output_action,
                           "--row-file", config.append_row_file_name,
                           "--logging-level", str(config.logging_level)]
        for item in inputs:
            if isinstance(item, PipelineData):
                data_inputs.append(item)
                argv += ["--input", item]
            elif isinstance(item, (str, os.PathLike)):
                folder = Path(item).resolve()
                if not folder.is_dir():
                    raise PipelineDefinitionError(f"ParallelRunStep {name!r}: input folder {str(item)!r} "
                                                  "does not exist")
                folders.append(folder)
                argv += ["--input", str(folder)]
            else:
                raise PipelineDefinitionError(
                    f"ParallelRunStep {name!r}: input {item!r} ({type(item).__name__}) does not map: "
                    "inputs are folders (a PipelineData or a path)")
        for item in side_inputs or ():
            if not isinstance(item, PipelineData):
                raise PipelineDefinitionError(f"ParallelRunStep {name!r}: side_inputs are PipelineData, got "
                                              f"{item!r}; pass a path as an argument instead")
            data_inputs.append(item)
        if output is not None:
            argv += ["--output", output]
        argv += ["--", *(arguments or ())]
        self._input_folders = folders
        # As given, for a published definition to build the same step again.
        self._given = {"inputs": list(inputs), "output": output, "side_inputs": list(side_inputs or ()),
                       "arguments": list(arguments or ())}
        self.parallel_run_config = config
        super().__init__(command=argv, name=name, compute_target=config.compute_target,
                         runconfig=config.environment, inputs=data_inputs,
                         outputs=[output] if output is not None else [],
                         source_directory=config.source_directory, allow_reuse=allow_reuse)

    def check_files(self) -> None:
        super().check_files()
        script = self.source_directory / self.parallel_run_config.entry_script
        if not script.is_file():
            raise PipelineDefinitionError(f"Step {self.name!r}: entry_script "
                                          f"{self.parallel_run_config.entry_script!r} does not exist in "
                                          f"{str(self.source_directory)!r}")

    def reuse_identity(self) -> dict[str, Any]:
        identity = super().reuse_identity()
        if self._input_folders:
            identity["input_folders"] = [_folder_identity(f) for f in self._input_folders]
        return identity

    def __repr__(self) -> str:
        return f"ParallelRunStep(name={self.name!r})"
