"""The process of a ParallelRunStep: mini-batches of its input files through the entry script.

Run by the step as ``python -m steprun_widgets.local.parallel_run ...`` (its arguments are written
by ``ParallelRunStep``). Worker processes (``concurrent.futures.ProcessPoolExecutor``) each load
the entry script and call its ``init()`` once, then ``run(mini_batch)`` per mini-batch (a list of
file paths). A mini-batch that raises is tried again, up to ``--run-max-try`` times; then it counts
as failed, named with its error on stderr. With ``append_row`` the rows ``run`` returns (a list's
items, a pandas DataFrame's rows) are written, in mini-batch order, into the output folder's row
file. Progress: a line on stdout about every 5 % and, with it, a value of the step metrics
``mini_batches_done`` and ``mini_batches_failed`` (the widget charts them live), with
``mini_batches_total`` logged once. On a Dask cluster (the runner sets ``STEPRUN_DASK_SCHEDULER``)
each mini-batch is one Dask task instead. The step fails (exit 1) when the failed files pass
``--error-threshold`` or the failed mini-batches pass ``--allowed-failed-count`` /
``--allowed-failed-percent`` (-1: no limit); the pending mini-batches are then not run.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.util
import logging
import multiprocessing
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from steprun_widgets.local.entry_script import OUTPUT_ENV, WORKER_ENV

#: Set by the runner in the environment of a step that runs on a Dask cluster: the scheduler's
#: address. A ParallelRunStep there runs one Dask task per mini-batch instead of local processes.
DASK_SCHEDULER_ENV = "STEPRUN_DASK_SCHEDULER"

_module: Any = None
#: Entry scripts loaded (and init()'ed) in this Dask worker process, by a digest of their source.
_dask_modules: dict[str, Any] = {}


class MiniBatchError(Exception):
    """A mini-batch that raised on a Dask worker: the error line, and what the task printed."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message, output)
        self.message = message
        self.output = output

    def __str__(self) -> str:
        return self.message


def list_files(folders: list[str]) -> list[str]:
    """Every file under the input folders, sorted within each folder (the order mini-batches take)."""
    files: list[str] = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            files.extend(os.path.join(dirpath, name) for name in sorted(filenames))
    return files


def mini_batches(files: list[str], kind: str, value: int) -> list[list[str]]:
    """Cut the files into mini-batches of ``value`` files, or of at most ``value`` bytes (a file
    larger than that is a mini-batch of its own)."""
    if kind == "files":
        return [files[i:i + value] for i in range(0, len(files), value)]
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for path in files:
        length = os.path.getsize(path)
        if current and size + length > value:
            batches.append(current)
            current, size = [], 0
        current.append(path)
        size += length
    if current:
        batches.append(current)
    return batches


def _init_worker(entry_script: str, argv: list[str], counter: Any, level: str) -> None:
    global _module
    with counter.get_lock():
        counter.value += 1
        os.environ[WORKER_ENV] = str(counter.value)
    sys.argv = [entry_script, *argv]
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO), stream=sys.stderr,
                        format=f"[worker {os.environ[WORKER_ENV]}] %(levelname)s %(message)s")
    sys.path.insert(0, os.getcwd())
    spec = importlib.util.spec_from_file_location("entry_script", entry_script)
    _module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_module)
    if hasattr(_module, "init"):
        _module.init()


def _run_batch(batch: list[str]) -> list[str]:
    result = _module.run(batch)
    return _rows(result)


def _dask_batch(entry_script: str, source: str, argv: list[str], level: str, batch: list[str],
                output: str | None) -> tuple[list[str], str]:
    """One mini-batch as a Dask task: the entry script is loaded and init()'ed once per worker
    process (cached by its source's digest); what it prints and logs is returned with its rows, so
    that the step's own logs keep it."""
    import contextlib
    import hashlib
    import io
    import types

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(f"[dask worker {os.getpid()}] %(levelname)s %(message)s"))
    logger = logging.getLogger("entry_script")
    logger.addHandler(handler)
    logger.setLevel(getattr(logging, str(level).upper(), logging.INFO))
    logger.propagate = False
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            key = hashlib.sha256(source.encode()).hexdigest()
            module = _dask_modules.get(key)
            if module is None:
                if output:
                    os.environ[OUTPUT_ENV] = output
                sys.argv = [entry_script, *argv]
                folder = os.path.dirname(entry_script)
                if os.path.isdir(folder) and folder not in sys.path:
                    sys.path.insert(0, folder)
                module = types.ModuleType("entry_script")
                module.__file__ = entry_script
                exec(compile(source, entry_script, "exec"), module.__dict__)
                if hasattr(module, "init"):
                    module.init()
                _dask_modules[key] = module
            rows = _rows(module.run(batch))
    except BaseException as exc:
        where = traceback.format_exception_only(type(exc), exc)[-1].strip()
        raise MiniBatchError(where, buffer.getvalue()) from None
    finally:
        logger.removeHandler(handler)
    return rows, buffer.getvalue()


def _rows(result: Any) -> list[str]:
    if result is None:
        return []
    if hasattr(result, "to_csv"):  # a pandas DataFrame: its rows, space-separated, as v1 writes them
        text = result.to_csv(sep=" ", header=False, index=False)
        return [line for line in text.splitlines() if line]
    return [str(item) for item in result]


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="parallel_run")
    parser.add_argument("--entry-script", required=True)
    parser.add_argument("--batch-kind", choices=("files", "bytes"), required=True)
    parser.add_argument("--batch-value", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--run-max-try", type=int, default=3)
    parser.add_argument("--error-threshold", type=int, default=-1)
    parser.add_argument("--allowed-failed-count", type=int, default=-1)
    parser.add_argument("--allowed-failed-percent", type=float, default=-1.0)
    parser.add_argument("--output-action", default="append_row")
    parser.add_argument("--row-file", default="parallel_run_step.txt")
    parser.add_argument("--logging-level", default="INFO")
    parser.add_argument("--input", action="append", default=[])
    parser.add_argument("--output")
    return parser.parse_args(argv)


def _over_limit(args: argparse.Namespace, failed: dict[int, str], failed_files: int,
                total: int) -> str | None:
    if args.error_threshold >= 0 and failed_files > args.error_threshold:
        return f"{failed_files} failed files, over error_threshold={args.error_threshold}"
    if args.allowed_failed_count >= 0 and len(failed) > args.allowed_failed_count:
        return f"{len(failed)} failed mini-batches, over allowed_failed_count={args.allowed_failed_count}"
    percent = len(failed) * 100.0 / total if total else 0.0
    if args.allowed_failed_percent >= 0 and percent > args.allowed_failed_percent:
        return (f"{len(failed)} of {total} mini-batches failed, over allowed_failed_percent="
                f"{args.allowed_failed_percent:g}")
    return None


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    user_args = raw[raw.index("--") + 1:] if "--" in raw else []
    args = _parse(raw[:raw.index("--")] if "--" in raw else raw)
    from steprun_widgets.local.context import Run

    run_context = Run.get_context()
    files = list_files(args.input)
    batches = mini_batches(files, args.batch_kind, args.batch_value)
    total = len(batches)
    print(f"ParallelRunStep: {len(files)} files in {total} mini-batches, {args.workers} worker processes",
          flush=True)
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        os.environ[OUTPUT_ENV] = args.output
    entry = str(Path(args.entry_script).resolve())
    dask_address = os.environ.get(DASK_SCHEDULER_ENV)
    if dask_address:
        from distributed import Client
        from distributed import wait as dask_wait

        client = Client(dask_address)  # the default client: distributed.wait uses it
        source = Path(entry).read_text(encoding="utf-8")
        print(f"ParallelRunStep: one Dask task per mini-batch on {dask_address}", flush=True)

        def submit(index: int):
            return client.submit(_dask_batch, entry, source, user_args, args.logging_level,
                                 batches[index], args.output, pure=False)

        def wait_some(futures):
            return dask_wait(list(futures), return_when="FIRST_COMPLETED").done

        closer = client.close
    else:
        pool = cf.ProcessPoolExecutor(
            max_workers=max(1, min(args.workers, total or 1)), initializer=_init_worker,
            initargs=(entry, user_args, multiprocessing.Value("i", 0), args.logging_level))

        def submit(index: int):
            return pool.submit(_run_batch, batches[index])

        def wait_some(futures):
            return cf.wait(futures, return_when=cf.FIRST_COMPLETED)[0]

        closer = pool.shutdown
    try:
        run_context.log("mini_batches_total", total)
        rows, failed, reason = _drive(args, batches, submit, wait_some, run_context)
    finally:
        closer()
    _finish(args, run_context, rows, failed, total)
    if reason is not None:
        print(f"ParallelRunStep failed: {reason}", file=sys.stderr, flush=True)
        return 1
    return 0


def _drive(args: argparse.Namespace, batches: list[list[str]], submit, wait_some, run_context: Any):
    """Run every mini-batch, retrying failures; stop submitting once a failure limit is passed."""
    total = len(batches)
    rows: dict[int, list[str]] = {}
    failed: dict[int, str] = {}
    tries = dict.fromkeys(range(total), 0)
    reason = None
    step = max(1, total // 20)
    pending = {submit(i): i for i in range(total)}
    while pending:
        done = wait_some(pending)
        for future in done:
            index = pending.pop(future)
            tries[index] += 1
            try:
                result = future.result()
                if isinstance(result, tuple):  # a Dask task: rows and what it printed
                    result, printed = result
                    if printed:
                        sys.stderr.write(printed)
                        sys.stderr.flush()
                rows[index] = result
            except cf.process.BrokenProcessPool:
                raise
            except BaseException as exc:  # the entry script's own error
                if isinstance(exc, MiniBatchError):
                    sys.stderr.write(exc.output)
                where = traceback.format_exception_only(type(exc), exc)[-1].strip()
                if isinstance(exc, MiniBatchError):
                    where = exc.message
                if tries[index] < args.run_max_try and reason is None:
                    pending[submit(index)] = index
                    continue
                failed[index] = where
                first, last = batches[index][0], batches[index][-1]
                print(f"mini-batch {index} ({len(batches[index])} files, {os.path.basename(first)} … "
                      f"{os.path.basename(last)}) failed after {tries[index]} tries: {where}",
                      file=sys.stderr, flush=True)
            finished = len(rows) + len(failed)
            if finished % step == 0 or finished == total:
                print(f"progress: {finished}/{total} mini-batches ({len(failed)} failed)", flush=True)
                run_context.log("mini_batches_done", len(rows))  # live: a chart of the step's progress
                run_context.log("mini_batches_failed", len(failed))
            if reason is None:
                failed_files = sum(len(batches[i]) for i in failed)
                reason = _over_limit(args, failed, failed_files, total)
                if reason is not None:
                    for other in pending:
                        other.cancel()
        pending = {f: i for f, i in pending.items() if not f.cancelled()}
    return rows, failed, reason


def _finish(args: argparse.Namespace, run_context: Any, rows: dict[int, list[str]], failed: dict[int, str],
            total: int) -> None:
    """Log the metrics, write the row file (append_row) and the summary line."""
    if args.output and args.output_action == "append_row":
        target = Path(args.output) / args.row_file
        fd, tmp = tempfile.mkstemp(dir=args.output, prefix=".rows.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for index in sorted(rows):
                for row in rows[index]:
                    f.write(row + "\n")
        os.replace(tmp, target)
    print(f"ParallelRunStep summary: {total} mini-batches, {len(rows)} done, {len(failed)} failed, "
          f"{total - len(rows) - len(failed)} not run", flush=True)


if __name__ == "__main__":
    # Run as the module's real name, not ``__main__``: Dask pickles the task function and the
    # MiniBatchError class by reference, so the workers keep one loaded entry script per process.
    from steprun_widgets.local.parallel_run import main as _main

    raise SystemExit(_main())
