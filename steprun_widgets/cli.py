"""The ``steprun-widgets`` command.

    steprun-widgets server start  [--root DIR]   start (or reuse) the embedded tracking server, print its URL
    steprun-widgets server status [--root DIR]   exit 0 and print URL, pid and live runs when running, else 1
    steprun-widgets server stop   [--root DIR] [--force]
                                                 stop it (refused while runs go on; --force cancels them)

``--root`` defaults to the per-user root (``$STEPRUN_HOME``, else the platform's user data folder).
    steprun-widgets clean [--root DIR | --temp] [--tracking-uri URL] [--dry-run] [--all]
                                                 remove the work folders of runs that are over
    steprun-widgets watch RUN_ID [--root DIR | --tracking-uri URL] [--timeout S]
                                                 stream a run's status and logs until it ends
    steprun-widgets pipeline submit NAME [--param K=V]... [--experiment E] [--version V] [--wait]
                    [--root DIR | --tracking-uri URL]
                                                 run a published pipeline or endpoint (cron, CI)
    steprun-widgets pipeline list [--all] [--root DIR | --tracking-uri URL]

Errors of the package are printed as ``error: <message>`` on stderr with exit code 2, without a traceback.

Adding a command: write ``_add_<name>_command(subparsers)`` that registers its parser and sets
``func=`` to a ``cmd_<name>(args) -> int`` function, and call it from :func:`build_parser`.
Heavy imports stay inside the ``cmd_*`` functions so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import sys

from steprun_widgets.errors import StepRunError

__all__ = ["build_parser", "main"]

#: ``None``: the per-user root (``steprun_widgets.local.home``; not imported here: keeps ``--help`` fast).
DEFAULT_ROOT = None
_ROOT_HELP = "your per-user root: $STEPRUN_HOME, else the platform's user data folder"


# --------------------------------------------------------------------------------------------------
# server start | stop | status


def cmd_server_start(args: argparse.Namespace) -> int:
    """Start (or reuse) the embedded server under ``--root`` and print its URL."""
    from steprun_widgets.local.server import ensure_server

    info = ensure_server(args.root, timeout=args.timeout)
    print(f"{'reused' if info.reused else 'started'} the embedded MLflow server (root: {info.root}), pid "
          f"{info.pid}", file=sys.stderr)
    print(info.url)
    print(f"(its UI: sign in with admin_username and admin_password of {info.auth_file})", file=sys.stderr)
    return 0


def cmd_server_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server under ``--root``; refuse while runs go on unless ``--force``."""
    from steprun_widgets.local.server import RunsStillGoingError, server_status, stop_server

    info = server_status(args.root)

    def say_canceled(run) -> None:
        print(f"canceling run {run.describe()}", flush=True)

    try:
        stopped = stop_server(args.root, force=args.force, on_cancel=say_canceled)
    except RunsStillGoingError as exc:
        print(f"error: not stopped: {exc}", file=sys.stderr)
        return 1
    if stopped:
        print(f"stopped (pid {info.pid}, root {info.root})" if info else "stopped")
    else:
        print("not running")
    return 0


def cmd_server_status(args: argparse.Namespace) -> int:
    """Print URL, pid and live runs and return 0 when the server under ``--root`` runs, else 1."""
    from steprun_widgets.local.home import resolve_root
    from steprun_widgets.local.server import idle_timeout, live_runs, server_status
    from steprun_widgets.local.workarea import summary, work_area

    root = resolve_root(args.root)
    info = server_status(root)
    if info is None:
        print(f"not running (root {root})")
    else:
        print(f"{info.url} pid {info.pid} root {info.root}")
        runs = live_runs(info)
        print(f"{len(runs)} run(s) going on" + (":" if runs else ""))
        for run in runs:
            print(f"  {run.describe()}")
        idle = idle_timeout()
        print(f"stops by itself after {idle / 60:g} min without requests" if idle
              else "never stops by itself")
    print(summary(work_area(root)))
    return 1 if info is None else 0


def _add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help=f"folder of the server's store, artifacts and log (default: {_ROOT_HELP})")


def _add_server_command(subparsers: argparse._SubParsersAction) -> None:
    server = subparsers.add_parser(
        "server", help="start, stop or query the embedded MLflow tracking server",
        description="The embedded MLflow tracking server (needs the 'local' extra).")
    actions = server.add_subparsers(dest="action", metavar="ACTION", required=True)

    start = actions.add_parser("start", help="start (or reuse) the server and print its URL")
    _add_root_option(start)
    start.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                       help="how long to wait for the server to answer (default: 120)")
    start.set_defaults(func=cmd_server_start)

    stop = actions.add_parser("stop", help="stop the server (refused while runs go on, unless --force)")
    _add_root_option(stop)
    stop.add_argument("--force", action="store_true",
                      help="cancel the runs still going on first (says which), then stop")
    stop.set_defaults(func=cmd_server_stop)

    status = actions.add_parser("status", help="exit 0 and print URL, pid and live runs if running, else 1")
    _add_root_option(status)
    status.set_defaults(func=cmd_server_status)


# --------------------------------------------------------------------------------------------------
# clean


def cmd_clean(args: argparse.Namespace) -> int:
    """Remove the work folders of pipelines that are over; print what goes and what stays, and why."""
    from steprun_widgets.local import workarea

    if args.temp or args.tracking_uri:
        from steprun_widgets.local.home import resolve_root

        base = workarea.work_area(None if args.temp else resolve_root(args.root))
        lookup = workarea.server_lookup(args.tracking_uri)
    else:
        from steprun_widgets.local.home import resolve_root
        from steprun_widgets.local.server import server_status

        root = resolve_root(args.root)
        info = server_status(root)
        base, lookup = workarea.work_area(root), workarea.server_lookup(info.url) if info else None
        if info is None:
            print(f"note: the server for {root} is not running, so no run's status can be learnt: "
                  "start it (steprun-widgets server start) to clean its work area")
    decisions = workarea.plan_clean(base, lookup or (lambda folder: None), workarea.Retention.from_env(),
                                    include_kept=args.all)
    left = [] if args.dry_run else workarea.apply_clean(decisions)
    verb = "would remove" if args.dry_run else "removed"
    freed = 0
    for decision in decisions:
        folder = decision.folder
        if decision.remove and decision not in left:
            freed += folder.size
            print(f"{verb} {folder.path} ({workarea.format_size(folder.size)}): {decision.reason}")
        else:
            reason = "taken by a process meanwhile" if decision in left else decision.reason
            print(f"kept {folder.path} ({workarea.format_size(folder.size)}): {reason}")
    count = sum(1 for d in decisions if d.remove and d not in left)
    print(f"{base}: {verb} {count} folder(s), {workarea.format_size(freed)}; "
          f"kept {len(decisions) - count}")
    return 0


def _add_clean_command(subparsers: argparse._SubParsersAction) -> None:
    clean = subparsers.add_parser(
        "clean", help="remove the work folders of runs that are over",
        description="Remove the runner's work folders of pipelines that are no longer running (their "
                    "logs and outputs are on the tracking server). Never removes a folder a live runner "
                    "or step holds, or whose pipeline the server reports Running; keeps failed runs' "
                    "folders within STEPRUN_KEEP_FAILED / STEPRUN_KEEP_FAILED_DAYS unless --all.")
    where = clean.add_mutually_exclusive_group()
    where.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                       help=f"the embedded default's work area, DIR/work (default: {_ROOT_HELP})")
    where.add_argument("--temp", action="store_true",
                       help="the temp work area ($TMPDIR/steprun-widgets/work) of runs on other servers "
                            "and of Dask workers (credentials from the MLFLOW_TRACKING_* variables)")
    clean.add_argument("--tracking-uri", metavar="URL",
                       help="ask this tracking server about every folder's run (default: the embedded "
                            "server of --root; with --temp, the server each run was submitted to)")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    clean.add_argument("--all", action="store_true",
                       help="also remove the folders of failed runs kept for debugging")
    clean.set_defaults(func=cmd_clean)


# --------------------------------------------------------------------------------------------------
# watch RUN_ID


def cmd_watch(args: argparse.Namespace) -> int:
    """Follow a pipeline or step run like ``wait_for_completion(show_output=True)``; 0 if it finished."""
    from steprun_widgets.core.layout import FINISHED
    from steprun_widgets.core.runs import open_run
    from steprun_widgets.core.workspace import Workspace

    workspace = Workspace(args.tracking_uri) if args.tracking_uri else Workspace.local(args.root)
    run = open_run(workspace, args.run_id)
    status = run.wait_for_completion(show_output=True, timeout_seconds=args.timeout,
                                     raise_on_error=False)
    return 0 if status == FINISHED else 1


def _add_watch_command(subparsers: argparse._SubParsersAction) -> None:
    watch = subparsers.add_parser(
        "watch", help="stream a pipeline's or a step's status and logs until it ends",
        description="Print status changes and new log lines of a run until it ends; exit 0 when it "
                    "finished, 1 when it failed, was canceled, stopped responding or the timeout passed.")
    watch.add_argument("run_id", metavar="RUN_ID", help="id of a pipeline run or a step run")
    _add_where_options(watch)
    watch.add_argument("--timeout", type=float, default=sys.maxsize, metavar="SECONDS",
                       help="stop watching after this long (the run goes on)")
    watch.set_defaults(func=cmd_watch)


# --------------------------------------------------------------------------------------------------
# pipeline submit NAME | pipeline list


def _workspace(args: argparse.Namespace):
    from steprun_widgets.core.workspace import Workspace

    return Workspace(args.tracking_uri) if args.tracking_uri else Workspace.local(args.root)


def _parse_params(pairs: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StepRunError(f"--param {pair!r} is not KEY=VALUE")
        if key in given:
            raise StepRunError(f"--param {key!r} is given twice")
        given[key] = value
    return given


def cmd_pipeline_submit(args: argparse.Namespace) -> int:
    """Submit a published pipeline or a pipeline endpoint by name (or a published pipeline by id)."""
    from steprun_widgets.core.layout import FINISHED
    from steprun_widgets.errors import RunNotFoundError
    from steprun_widgets.local.publish import PipelineEndpoint, PublishedPipeline

    workspace = _workspace(args)
    given = _parse_params(args.param)
    endpoint = published = None
    try:
        endpoint = PipelineEndpoint.get(workspace, name=args.name)
    except RunNotFoundError:
        try:
            published = PublishedPipeline.get(workspace, args.name)
        except (RunNotFoundError, StepRunError):
            published = PublishedPipeline.find(workspace, args.name, args.version)
    experiment = args.experiment or args.name
    if endpoint is not None:
        chosen = endpoint.get_pipeline(args.version)
        values = chosen.coerce_parameters(given)
        run = endpoint.submit(experiment, values, pipeline_version=args.version)
        what = f"pipeline endpoint {endpoint.name!r} version {args.version or endpoint.default_version}"
    else:
        values = published.coerce_parameters(given)
        run = published.submit(workspace, experiment, values)
        what = f"published pipeline {published.name!r} ({published.id})"
    print(f"submitted {what} as run {run.id} in experiment {experiment!r}")
    if not args.wait:
        return 0
    status = run.wait_for_completion(show_output=True, raise_on_error=False)
    return 0 if status == FINISHED else 1


def cmd_pipeline_list(args: argparse.Namespace) -> int:
    """Print the published pipelines and endpoints of the server, one a line."""
    from steprun_widgets.local.publish import PipelineEndpoint, PublishedPipeline

    workspace = _workspace(args)
    for p in PublishedPipeline.list(workspace, active_only=not args.all):
        print(f"pipeline  {p.id}  {p.name}  version={p.version or '-'}  {p.status}")
    for e in PipelineEndpoint.list(workspace, active_only=not args.all):
        print(f"endpoint  {e.id}  {e.name}  default={e.default_version}  {e.status}")
    return 0


def _add_where_options(parser: argparse.ArgumentParser) -> None:
    """``--root DIR | --tracking-uri URL``: which server a command talks to."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                       help=f"the embedded server under DIR (default: {_ROOT_HELP})")
    where.add_argument("--tracking-uri", metavar="URL",
                       help="a tracking server (credentials from MLFLOW_TRACKING_TOKEN or "
                            "MLFLOW_TRACKING_USERNAME/PASSWORD)")


def _add_pipeline_command(subparsers: argparse._SubParsersAction) -> None:
    pipeline = subparsers.add_parser(
        "pipeline", help="submit or list published pipelines (for cron and CI)",
        description="Published pipelines and pipeline endpoints (see docs/publishing.md).")
    actions = pipeline.add_subparsers(dest="action", metavar="ACTION", required=True)
    submit = actions.add_parser(
        "submit", help="run a published pipeline or a pipeline endpoint",
        description="Submit the pipeline endpoint named NAME (its default version, or --version), else "
                    "the published pipeline with id NAME, else the newest active published pipeline "
                    "named NAME; print the run id. Exit 0 once submitted (with --wait: 0 when the run "
                    "finished, 1 otherwise); errors exit 2.")
    submit.add_argument("name", metavar="NAME", help="endpoint name, published pipeline name or id")
    submit.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a PipelineParameter value (repeat for more); typed like its default")
    submit.add_argument("--experiment", metavar="NAME", help="experiment of the run (default: NAME)")
    submit.add_argument("--version", metavar="V", help="the endpoint's version, or the published version")
    submit.add_argument("--wait", action="store_true", help="stream the run's logs until it ends")
    _add_where_options(submit)
    submit.set_defaults(func=cmd_pipeline_submit)
    listing = actions.add_parser("list", help="list published pipelines and endpoints")
    listing.add_argument("--all", action="store_true", help="disabled ones too")
    _add_where_options(listing)
    listing.set_defaults(func=cmd_pipeline_list)


# --------------------------------------------------------------------------------------------------
# parser and entry point


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``steprun-widgets`` with all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="steprun-widgets",
        description="Watch and use the steps of an ML pipeline run; manage the embedded tracking server.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_server_command(subparsers)
    _add_watch_command(subparsers)
    _add_clean_command(subparsers)
    _add_pipeline_command(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except StepRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover
        return "unknown"
    try:
        return version("steprun-widgets")
    except PackageNotFoundError:
        import steprun_widgets

        return getattr(steprun_widgets, "__version__", "unknown")


if __name__ == "__main__":
    raise SystemExit(main())
