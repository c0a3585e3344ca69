"""A real S3 API on loopback for tests: moto's server (``moto[server]``), one per test module or session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.mlflow_server import free_port, stop_process

#: What moto accepts as credentials; the client and the MLflow server both sign with them.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "steprun-test-key", "AWS_SECRET_ACCESS_KEY": "steprun-test-secret",
                  "AWS_DEFAULT_REGION": "us-east-1"}


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1 and a free port; ``env`` points S3 clients at it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """What MLflow's clients (and this package) read to reach this S3: endpoint and credentials.
        Botocore gives up on the first failed attempt, so a fault shows at once, not after retries."""
        return {"MLFLOW_S3_ENDPOINT_URL": self.url, **S3_CREDENTIALS, "AWS_MAX_ATTEMPTS": "1"}

    def start(self, timeout: float = 60.0) -> MotoServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = open(self.folder / "moto.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.folder,
                                     env={**os.environ, **S3_CREDENTIALS})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited: see {self.folder / 'moto.log'}")
            try:
                requests.get(self.url, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"moto server did not answer in {timeout} s")

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``: key -> bytes."""
        s3 = self.client()
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, lambda pid: os.killpg(pid, signal.SIGTERM))
        self.proc = None
        self.log.close()
