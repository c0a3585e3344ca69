"""The ``steprun-widgets`` command.

    steprun-widgets server start  [--root DIR]   start (or reuse) the embedded tracking server, print its URL
    steprun-widgets server status [--root DIR]   exit 0 and print URL and pid when running, else exit 1
    steprun-widgets server stop   [--root DIR]   stop it

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

#: Same as ``steprun_widgets.local.server.DEFAULT_ROOT`` (not imported from there: keeps ``--help`` fast).
DEFAULT_ROOT = ".steprun"


# --------------------------------------------------------------------------------------------------
# server start | stop | status


def cmd_server_start(args: argparse.Namespace) -> int:
    """Start (or reuse) the embedded server under ``--root`` and print its URL."""
    from steprun_widgets.local.server import ensure_server

    info = ensure_server(args.root, timeout=args.timeout)
    print(info.url)
    return 0


def cmd_server_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server under ``--root`` (nothing to do when none is running)."""
    from steprun_widgets.local.server import server_status, stop_server

    info = server_status(args.root)
    if stop_server(args.root):
        print(f"stopped (pid {info.pid})" if info else "stopped")
    else:
        print("not running")
    return 0


def cmd_server_status(args: argparse.Namespace) -> int:
    """Print URL and pid and return 0 when the server under ``--root`` runs, else "not running" and 1."""
    from steprun_widgets.local.server import server_status

    info = server_status(args.root)
    if info is None:
        print("not running")
        return 1
    print(f"{info.url} pid {info.pid} root {info.root}")
    return 0


def _add_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help=f"folder of the server's store, artifacts and log (default: {DEFAULT_ROOT})")


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

    stop = actions.add_parser("stop", help="stop the server")
    _add_root_option(stop)
    stop.set_defaults(func=cmd_server_stop)

    status = actions.add_parser("status", help="exit 0 and print URL and pid if running, else exit 1")
    _add_root_option(status)
    status.set_defaults(func=cmd_server_status)


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
    # More commands register here, e.g. _add_watch_command(subparsers) for
    # ``watch RUN_ID [--root DIR | --tracking-uri URL]`` (its cmd_watch(args) -> int does the work).
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
