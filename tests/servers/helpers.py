"""Helpers of the server-matrix tests: runs of another tool, and a record of every HTTP answer."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.mlflow_server import server_python

OTHER_TOOL = Path(__file__).with_name("other_tool.py")


def make_other_tool_runs(tracking_uri: str, experiment: str, plain_children: int = 0,
                         bare_children: int = 0) -> dict:
    """Write a pipeline with MLflow's own client (the server's own version); returns its ids."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([server_python(), str(OTHER_TOOL), tracking_uri, experiment,
                           str(plain_children), str(bare_children)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    made = json.loads(done.stdout.strip().splitlines()[-1])
    made["experiment"] = experiment
    return made


class Answers:
    """Every HTTP answer a workspace got while recording: (method, path, status)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []

    def __call__(self, response: requests.Response, *args, **kwargs) -> None:
        request = response.request
        path = requests.utils.urlparse(request.url).path
        self.seen.append((request.method, path, response.status_code))

    @property
    def count(self) -> int:
        return len(self.seen)

    def errors(self) -> list[tuple[str, str, int]]:
        return [s for s in self.seen if s[2] >= 400]

    def by_kind(self) -> Counter:
        """Requests by what they do: get, search, list, read (artifact bytes), other."""
        kinds = Counter()
        for _, path, _ in self.seen:
            if path.endswith("/runs/get"):
                kinds["get"] += 1
            elif path.endswith("/runs/search"):
                kinds["search"] += 1
            elif path.endswith("/artifacts/list"):
                kinds["list"] += 1
            elif "mlflow-artifacts/artifacts" in path or path.endswith("/get-artifact"):
                kinds["read"] += 1
            else:
                kinds["other"] += 1
        return kinds


@contextmanager
def recording(workspace):
    """Record every answer the workspace's session gets (retries too: urllib3 retries below the
    session, so a retried 500 shows once here; the transport's own count is compared too)."""
    answers = Answers()
    hooks = workspace.transport.session.hooks["response"]
    hooks.append(answers)
    try:
        yield answers
    finally:
        hooks.remove(answers)
