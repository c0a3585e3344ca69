"""Reuse keys: what must match for an earlier step's results to stand for a new run."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: Folders whose content never changes what a step computes.
IGNORED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".pytest_cache", ".steprun"}


def source_digest(folder: Path) -> str:
    """A hash of every file's relative path and bytes under ``folder`` (sorted, stable)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            rel = path.relative_to(folder).as_posix()
            digest.update(rel.encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def reuse_key(source: str, script_name: str, arguments: list, inputs: list[tuple[str, str]],
              extra: dict | None = None) -> str:
    """The key of a step: its source digest, script, arguments and the identity of its inputs.

    ``inputs`` are (data name, run id that produced it): a re-run producer has a new run id, so
    everything downstream of it runs again, while reused producers keep their original id.
    ``extra`` is what else decides the result (a CommandStep's command, a step's ``version``, the
    environment variables and Python its run configuration sets); left out when empty, so keys of
    steps without any stay what they were.
    """
    body = {"source": source, "script": script_name, "arguments": arguments, "inputs": sorted(inputs)}
    if extra:
        body["extra"] = extra
    payload = json.dumps(body, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
