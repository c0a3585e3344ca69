"""The embedded server's process: MLflow's tracking server with its basic-auth app, in ONE process.

``python -m steprun_widgets.local.serve --root ROOT --host 127.0.0.1 --port PORT --backend-store-uri URI
[--idle-timeout SECONDS]``

``mlflow server`` is a launcher: it checks its options, prepares the store, bootstraps the auth admin,
then starts uvicorn as a second Python process that imports MLflow again (two processes of about 270 MB
each). Here MLflow's own ``server`` command runs in this process, exactly as on the command line, up to
the point where it would launch uvicorn; that launch (``mlflow.server._exec_cmd``) is taken over, and the
same app is served by uvicorn in this process, with the same environment MLflow prepared for it. With
one worker, uvicorn needs no supervisor process. Where the launch is not the one-worker uvicorn command
this expects (another MLflow version), MLflow launches it as usual: two processes, nothing lost.

The server stops by itself after ``--idle-timeout`` seconds without a request (runners send a heartbeat
every few seconds and widgets poll while a run goes on, so "no request" means no live run and no
client); ``0`` keeps it running. The next ``Workspace.local()``, CLI call or widget request starts it
again, on the same port when that is free.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["main", "IdleMeter", "DEFAULT_IDLE_TIMEOUT", "IDLE_ENV", "mlflow_server_args"]

#: Seconds without any request after which the embedded server stops itself (30 minutes).
DEFAULT_IDLE_TIMEOUT = 1800.0
#: Environment variable overriding it (seconds; 0 = never stop).
IDLE_ENV = "STEPRUN_SERVER_IDLE_TIMEOUT"
_HOST = "127.0.0.1"


def mlflow_server_args(root: Path, host: str, port: int, backend_uri: str, artifacts: Path) -> list[str]:
    """The ``mlflow server`` arguments of the embedded server (basic auth, one worker)."""
    return ["server", "--app-name", "basic-auth", "--backend-store-uri", backend_uri,
            "--artifacts-destination", str(artifacts), "--host", host, "--port", str(port),
            "--workers", "1"]


class IdleMeter:
    """ASGI middleware counting requests in flight and the time the last one ended."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.active = 0
        self.last = time.monotonic()
        self._lock = threading.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.active += 1
            self.last = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.active -= 1
                self.last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is in flight."""
        with self._lock:
            return 0.0 if self.active else time.monotonic() - self.last


class _Handoff(Exception):
    """Raised in place of launching uvicorn: the command and environment MLflow prepared for it."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        super().__init__("handoff")
        self.cmd, self.env = cmd, env


def _uvicorn_options(cmd: list[str]) -> dict[str, Any] | None:
    """The options of MLflow's one-worker uvicorn command, or None when it is not that command."""
    if len(cmd) < 4 or list(cmd[1:3]) != ["-m", "uvicorn"]:
        return None
    opts: dict[str, Any] = {"factory": False}
    args = list(cmd[3:])
    app = args.pop()  # the app is the last argument
    i = 0
    while i < len(args):
        flag = args[i]
        if flag == "--factory":
            opts["factory"] = True
            i += 1
            continue
        if i + 1 >= len(args):
            return None
        value = args[i + 1]
        if flag == "--log-config":
            opts["log_config"] = value
        elif flag == "--host":
            opts["host"] = value
        elif flag == "--port":
            opts["port"] = int(value)
        elif flag == "--workers":
            if value != "1":
                return None
        elif flag == "--env-file":
            opts["env_file"] = value
        else:
            return None  # an option this does not know: let MLflow launch it
        i += 2
    opts["app"] = app
    return opts


def _watch_idle(server: Any, meter: IdleMeter, timeout: float) -> None:
    while not server.should_exit:
        time.sleep(min(30.0, max(0.2, timeout / 4)))
        idle = meter.idle_for()
        if idle >= timeout:
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            print(f"--- steprun-widgets: no request for {idle:.0f} s (idle timeout {timeout:g} s): "
                  f"stopping at {stamp}; the next Workspace.local() starts it again", flush=True)
            server.should_exit = True
            return


def _serve(opts: dict[str, Any], idle_timeout: float) -> int:
    import uvicorn

    config = uvicorn.Config(opts["app"], host=opts.get("host", _HOST), port=opts["port"], workers=1,
                            factory=opts["factory"], env_file=opts.get("env_file"),
                            log_config=opts.get("log_config"))
    config.load()
    meter = IdleMeter(config.loaded_app)
    config.loaded_app = meter
    server = uvicorn.Server(config)
    if idle_timeout > 0:
        threading.Thread(target=_watch_idle, args=(server, meter, idle_timeout), daemon=True,
                         name="steprun-idle-stop").start()
    server.run()
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    """Run the embedded server for a root until it is stopped or idle."""
    parser = argparse.ArgumentParser(prog="python -m steprun_widgets.local.serve")
    parser.add_argument("--root", required=True)
    parser.add_argument("--host", default=_HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend-store-uri", required=True)
    parser.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT)
    args = parser.parse_args(argv)
    root = Path(args.root)

    import mlflow.server as mlflow_server
    from mlflow.cli import cli

    launch = getattr(mlflow_server, "_exec_cmd", None)

    def in_this_process(cmd, *a, extra_env=None, **kw):
        if isinstance(cmd, list) and _uvicorn_options(cmd) is not None and not a:
            raise _Handoff(cmd, dict(extra_env or {}))
        return launch(cmd, *a, extra_env=extra_env, **kw)

    if launch is not None:
        mlflow_server._exec_cmd = in_this_process
    mlflow_args = mlflow_server_args(root, args.host, args.port, args.backend_store_uri, root / "artifacts")
    try:
        cli.main(args=mlflow_args, prog_name="mlflow", standalone_mode=False)
    except _Handoff as handoff:
        os.environ.update(handoff.env)
        opts = _uvicorn_options(handoff.cmd)
        assert opts is not None
        print(f"--- steprun-widgets: serving MLflow in this process (pid {os.getpid()}), "
              f"idle timeout {args.idle_timeout:g} s", flush=True)
        return _serve(opts, args.idle_timeout)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
