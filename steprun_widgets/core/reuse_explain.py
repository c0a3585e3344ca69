"""Why a step ran or was reused, in one sentence, from the reuse records the runner writes.

When a pipeline is submitted, the runner writes for every step a small JSON record
(``layout.REUSE_RECORD_PATH`` on the step's run in that pipeline): the parts of the step's reuse key
and the decision it made. This module holds that record's format and turns a record, and the record
of the run it was compared with, into a sentence such as::

    reused run 3f2a91c0… of pipeline 81c0d2e4…: same code, arguments and inputs
    ran: train.py changed (3 lines); argument --lr 0.1 → 0.01 since run 3f2a91c0…
    ran: input 'data' changed because step 'prep' ran since run 3f2a91c0…
    ran: allow_reuse=False
    ran: no earlier run

It needs nothing but the record's JSON, so it works on any client (and the dry run of
``Pipeline.explain_reuse`` uses it on records it has not written yet).

The record (``FORMAT`` 1)::

    {"format": 1, "step": name,
     "decision": "reused" | "ran",
     "why": "reused" | "allow_reuse" | "regenerate" | "changed" | "first",
     "reused_run": id, "reused_pipeline": id,         # decision "reused"
     "compared_run": id, "compared_pipeline": id,     # the earlier run the key was compared with
     "parts": {"source": digest, "files": {path: {"sha": hex, "lines": [hex, ...]}},
               "files_complete": bool, "script": name, "arguments": [...],
               "argument_parameters": [name or null, ...], "parameters": {name: value},
               "inputs": [{"data": name, "producer": step, "run": id or null, "producer_ran": bool}],
               "environment": {name: digest}, "allow_reuse": bool}}

Per-file ``lines`` are short hashes of each line of a text file, not its text: enough to count the
lines a change touched ("(3 lines)") without copying source code into the tracking server.
Environment values are digests for the same reason (they may hold secrets).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from steprun_widgets.core import layout
from steprun_widgets.core.rest import MlflowRest, RunRecord
from steprun_widgets.errors import RunNotFoundError

FORMAT = 1
DECISION_REUSED = "reused"
DECISION_RAN = "ran"
WHY_REUSED = "reused"
WHY_ALLOW_REUSE = "allow_reuse"
WHY_REGENERATE = "regenerate"
WHY_CHANGED = "changed"
WHY_FIRST = "first"

NO_RECORD = "ran: no record of why (run made by an older version)"


def short(run_id: str | None) -> str:
    """A run id as the sentences show it: its first 8 characters and an ellipsis."""
    return f"{(run_id or '?')[:8]}…"


def encode(record: Mapping[str, Any]) -> bytes:
    """The record as the artifact holds it (compact UTF-8 JSON)."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()


def decode(data: bytes | None) -> dict | None:
    """A record read back; None when absent or not a record of a known format."""
    if not data:
        return None
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        return None
    return record


def explain(record: Mapping[str, Any] | None, compared: Mapping[str, Any] | None = None, *,
            reused_from: tuple[str, str] | None = None) -> str:
    """One sentence saying why a step ran or was reused.

    ``record`` is the step's reuse record (None for a run made before records existed);
    ``compared`` the record of the run named in its ``compared_run`` (None when there is none or it
    has no record); ``reused_from`` (run id, pipeline id) for a step without a record that the
    layout's tags say was reused.
    """
    if record is None:
        if reused_from is not None:
            return (f"reused run {short(reused_from[0])} of pipeline {short(reused_from[1])} "
                    "(no record of its key: run made by an older version)")
        return NO_RECORD
    why = record.get("why")
    if record.get("decision") == DECISION_REUSED:
        return (f"reused run {short(record.get('reused_run'))} of pipeline "
                f"{short(record.get('reused_pipeline'))}: same code, arguments and inputs")
    if why == WHY_ALLOW_REUSE:
        return "ran: allow_reuse=False"
    if why == WHY_REGENERATE:
        return "ran: regenerate_outputs=True"
    compared_id = record.get("compared_run")
    if why == WHY_FIRST or not compared_id:
        return "ran: no earlier run"
    since = f" since run {short(compared_id)}"
    if compared is None:
        return (f"ran: its key differs from run {short(compared_id)}, which has no record of its "
                "key (run made by an older version)")
    changes = differences(record.get("parts") or {}, compared.get("parts") or {})
    if not changes:
        return (f"ran: no finished run with the same code, arguments and inputs (the closest, run "
                f"{short(compared_id)}, has the same parts; it may not have finished)")
    return "ran: " + "; ".join(changes) + since


def differences(parts: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    """What differs between two sets of key parts, each as a short phrase, in key order."""
    changes = _file_changes(parts, before)
    if parts.get("script") != before.get("script"):
        changes.append(f"script {before.get('script')} → {parts.get('script')}")
    changes += _parameter_changes(parts, before)
    changes += _argument_changes(parts, before)
    changes += _input_changes(parts.get("inputs") or [], before.get("inputs") or [])
    env, env_before = parts.get("environment") or {}, before.get("environment") or {}
    for name in sorted(set(env) | set(env_before)):
        if env.get(name) != env_before.get(name):
            changes.append(f"{_ENVIRONMENT_WORDS.get(name, name)} changed")
    return changes


_ENVIRONMENT_WORDS = {"environment": "environment variables", "python": "Python",
                      "data": "data inputs (datastore files or datasets)",
                      "version": "step version", "command": "command"}


def _file_changes(parts: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    if parts.get("source") == before.get("source"):
        return []
    files, old = parts.get("files") or {}, before.get("files") or {}
    changes = []
    for path in sorted(set(files) | set(old)):
        new_file, old_file = files.get(path), old.get(path)
        if old_file is None:
            changes.append(f"{path} added")
        elif new_file is None:
            changes.append(f"{path} removed")
        elif new_file.get("sha") != old_file.get("sha"):
            count = changed_lines(old_file.get("lines"), new_file.get("lines"))
            changes.append(f"{path} changed" if count is None else
                           f"{path} changed ({count} line{'' if count == 1 else 's'})")
    if not changes:  # the files list was cut short (a very large folder): say what is known
        changes.append("source files changed")
    return changes


def changed_lines(old: list[str] | None, new: list[str] | None) -> int | None:
    """How many lines a change touched: per changed block, the larger of lines removed and added
    (a line edited in place counts once). None when either side has no line hashes (binary or large)."""
    if old is None or new is None:
        return None
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")


def _shown(value: Any) -> str:
    if isinstance(value, dict) and "data" in value:
        return f"<{value['data']}>"
    return str(value)


def _parameter_changes(parts: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    params, old = parts.get("parameters") or {}, before.get("parameters") or {}
    return [f"parameter {name} {_shown(old.get(name, '(none)'))} → {_shown(params.get(name, '(none)'))}"
            for name in sorted(set(params) | set(old)) if params.get(name) != old.get(name)]


def _argument_changes(parts: Mapping[str, Any], before: Mapping[str, Any]) -> list[str]:
    args, old = list(parts.get("arguments") or []), list(before.get("arguments") or [])
    from_params = list(parts.get("argument_parameters") or [])
    if len(args) != len(old):
        return [f"arguments {' '.join(map(_shown, old)) or '(none)'} → "
                f"{' '.join(map(_shown, args)) or '(none)'}"]
    changes = []
    for i, (new, was) in enumerate(zip(args, old, strict=True)):
        if new == was or (i < len(from_params) and from_params[i]):
            continue  # a parameter's value is named as the parameter
        flag = args[i - 1] if i and isinstance(args[i - 1], str) and args[i - 1].startswith("-") \
            and args[i - 1] == old[i - 1] else None
        label = f"argument {flag}" if flag else f"argument {i + 1}"
        changes.append(f"{label} {_shown(was)} → {_shown(new)}")
    return changes


def _input_changes(inputs: list[Mapping[str, Any]], before: list[Mapping[str, Any]]) -> list[str]:
    old = {i.get("data"): i for i in before}
    new = {i.get("data"): i for i in inputs}
    changes = []
    for name, item in new.items():
        was = old.get(name)
        if was is None:
            changes.append(f"input '{name}' added")
        elif item.get("run") != was.get("run") or item.get("run") is None:
            if item.get("producer_ran"):
                changes.append(f"input '{name}' changed because step '{item.get('producer')}' ran")
            else:
                changes.append(f"input '{name}' comes from run {short(item.get('run'))} instead of "
                               f"{short(was.get('run'))}")
    changes += [f"input '{name}' removed" for name in old if name not in new]
    return changes


def read_record(rest: MlflowRest, run: RunRecord) -> dict | None:
    """The reuse record of a step run (None when it has none: made by an older version, or by
    another tool)."""
    found = rest.read_range(run, layout.REUSE_RECORD_PATH, 0)
    return decode(found[0]) if found else None


def explain_step_records(rest: MlflowRest, records: list[RunRecord]) -> dict[str, str]:
    """``{step name: sentence}`` for the step runs of one pipeline (its own runs, as
    ``PipelineRun.step_records()`` gives them, not the originals of reused steps).

    Costs one artifact read per step, and for each step that ran, one run lookup and one read of
    the record it was compared with (each compared run read once).
    """
    compared_records: dict[str, dict | None] = {}
    explained: dict[str, str] = {}
    for run in records:
        record = read_record(rest, run)
        tags = run.tags
        reused = tags.get(layout.TAG_REUSED_RUN_ID)
        reused_from = (reused, tags.get(layout.TAG_REUSED_PIPELINE, "")) if reused else None
        compared = None
        compared_id = (record or {}).get("compared_run")
        if record and record.get("why") == WHY_CHANGED and compared_id:
            if compared_id not in compared_records:
                compared_records[compared_id] = compared_record(rest, compared_id)
            compared = compared_records[compared_id]
        if record is None and tags.get(layout.TAG_REUSE_WHY):  # the record could not be stored
            explained[run.name] = tags[layout.TAG_REUSE_WHY]
            continue
        explained[run.name] = explain(record, compared, reused_from=reused_from)
    return explained


def compared_record(rest: MlflowRest, run_id: str) -> dict | None:
    """The reuse record of the run a decision was compared with (None when gone or without one)."""
    try:
        return read_record(rest, rest.get_run(run_id))
    except RunNotFoundError:  # deleted since: explained as having no record
        return None
