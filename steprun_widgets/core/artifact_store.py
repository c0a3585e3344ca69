"""Artifact stores the tracking server does not proxy, read and written directly through fsspec.

A server started with ``--no-serve-artifacts --default-artifact-root s3://bucket/path`` gives its runs
artifact URIs such as ``s3://bucket/path/<experiment>/<run>/artifacts``: MLflow's own clients then
talk to the object store themselves, with the store's own credentials. This module does the same,
through fsspec and the filesystem package of each store (optional extras of this package):

=========================  ============  ===========  ==========================================
artifact URI               package       extra        credentials (as MLflow's clients read them)
=========================  ============  ===========  ==========================================
``s3://bucket/...``        s3fs          ``s3``       ``AWS_ACCESS_KEY_ID`` ... , ``MLFLOW_S3_ENDPOINT_URL``,
                                                      ``MLFLOW_S3_IGNORE_TLS``
``gs://bucket/...``        gcsfs         ``gcs``      ``GOOGLE_APPLICATION_CREDENTIALS``
``wasbs://c@acct.blob...`` adlfs         ``azure``    ``AZURE_STORAGE_CONNECTION_STRING``,
``abfss://c@acct.dfs...``                             ``AZURE_STORAGE_ACCESS_KEY``
``file:///...``, a path    (fsspec)      --           this machine's files
=========================  ============  ===========  ==========================================

fsspec is imported only when such a store is first used, so ``import steprun_widgets`` stays light.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from steprun_widgets.errors import ArtifactStoreError, register_secret

PROXIED_SCHEME = "mlflow-artifacts"

#: Scheme -> (the fsspec package that reaches it, the extra of this package that installs it).
STORE_PACKAGES: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "wasbs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}
LOCAL_SCHEMES = ("file", "")
#: Bytes read from the store per chunk of a streamed download.
CHUNK = 1024 * 1024
#: Seconds to connect to, and to wait for an answer from, an S3 endpoint (botocore's defaults: 60 and 60).
S3_CONNECT_TIMEOUT = 10
S3_READ_TIMEOUT = 60


def scheme_of(uri: str) -> str:
    """The scheme of an artifact URI (``""`` for a plain path)."""
    if len(uri) > 1 and uri[1] == ":" and uri[0].isalpha():  # a Windows drive letter
        return ""
    return uri.split(":", 1)[0].lower() if ":" in uri else ""


def is_direct(uri: str, levels: int = 3) -> bool:
    """True when a run's artifacts are reached directly, not through the tracking server:
    an object store the server does not proxy, or a folder of this machine.

    ``levels``: how far the store's root is above ``uri`` (3 for a run's ``<root>/<experiment
    id>/<run id>/artifacts``, 1 for an experiment's ``<root>/<experiment id>``).
    """
    scheme = scheme_of(uri)
    if scheme in STORE_PACKAGES:
        return True
    return scheme in LOCAL_SCHEMES and _local_root_here(uri, levels)


def _local_root_here(uri: str, levels: int) -> bool:
    """A ``file://`` artifact root is reached directly when it is a folder on this machine (the server's
    host, or a shared mount); else the server's ``/get-artifact`` serves it, as before."""
    path = Path(os.path.abspath(_local_path(uri)))
    root = path.parents[levels - 1] if len(path.parents) >= levels else path
    return root.is_dir() and root.parent != root


def _local_path(uri: str) -> str:
    if scheme_of(uri) == "file":
        split = urlsplit(uri)
        return split.path if split.netloc in ("", "localhost") else f"//{split.netloc}{split.path}"
    return uri


def install_hint(uri: str) -> str:
    """What the user can do when the package for ``uri``'s store is missing."""
    if scheme_of(uri) in LOCAL_SCHEMES:  # a folder: fsspec alone reaches it (any store extra has it)
        package, install = "fsspec", "pip install fsspec"
    else:
        package, extra = STORE_PACKAGES[scheme_of(uri)]
        install = f'pip install "steprun-widgets[{extra}]"'
    return (f"install {package} ({install}) to reach it directly as "
            "MLflow's own clients do, or start the tracking server with --serve-artifacts "
            "so that it proxies the artifacts")


@dataclass(frozen=True)
class Entry:
    """An entry of a listing: its path relative to the run's artifact root."""

    path: str
    is_dir: bool
    size: int | None


class StoreMissing(ArtifactStoreError):
    """The package that reaches this kind of store is not installed."""


class DirectStore:
    """The artifacts of one run in a store reached directly (``artifact_uri`` of the run)."""

    def __init__(self, artifact_uri: str, run_id: str, fs: Any, root: str, local: bool) -> None:
        self.uri = artifact_uri
        self.run_id = run_id
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = local

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def _error(self, verb: str, path: str, exc: BaseException) -> ArtifactStoreError:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return ArtifactStoreError(
            f"This machine could not {verb} the artifact store of run {self.run_id!r} ({self.uri}) for "
            f"{path or 'its artifact list'!r}: {reason[:500]}")

    # --- reading --------------------------------------------------------------------------------
    def size(self, path: str) -> int | None:
        """The size of one artifact, None when it does not exist."""
        try:
            info = self.fs.info(self._full(path))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", path, exc) from None
        if info.get("type") == "directory":
            return None
        return int(info.get("size") or 0)

    def read_range(self, path: str, start: int, length: int | None = None
                   ) -> tuple[bytes, int | None] | None:
        """Bytes from ``start`` (at most ``length``) and the total size; None when missing.

        One metadata request, then a ranged read of the new bytes only (none when nothing is new).
        """
        total = self.size(path)
        if total is None:
            return None
        if start >= total:
            return b"", total
        end = total if length is None else min(total, start + length)
        try:
            return self.fs.cat_file(self._full(path), start=start, end=end), total
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._error("read", path, exc) from None

    def read_tail(self, path: str, nbytes: int) -> bytes:
        got = self.size(path)
        if not got:
            return b""
        return (self.read_range(path, max(0, got - nbytes)) or (b"", 0))[0]

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[_Chunks]:
        """A streamed read of one artifact; ``iter_content(n)`` gives its bytes."""
        try:
            handle = self.fs.open(self._full(path), "rb", block_size=CHUNK)
        except FileNotFoundError:
            raise ArtifactStoreError(f"Artifact {path!r} of run {self.run_id!r} is not in its "
                                     f"artifact store ({self.uri})") from None
        except Exception as exc:
            raise self._error("read", path, exc) from None
        try:
            yield _Chunks(handle, self, path)
        finally:
            with contextlib.suppress(Exception):
                handle.close()

    def list(self, path: str) -> list[Entry]:
        """The entries directly under ``path`` (empty when there is none, or it is a file)."""
        full = self._full(path)
        try:
            found = self.fs.ls(full, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except Exception as exc:
            raise self._error("list", path, exc) from None
        entries = []
        for info in found:
            name = str(info.get("name", "")).rstrip("/")
            if self.local:
                name = Path(name).as_posix()
            if name == full.rstrip("/") or not name.startswith(self.root + "/"):
                continue  # a file lists as itself: MLflow lists a file as nothing
            is_dir = info.get("type") == "directory"
            entries.append(Entry(name[len(self.root) + 1:], is_dir,
                                 None if is_dir else int(info.get("size") or 0)))
        return sorted(entries, key=lambda e: e.path)

    # --- writing --------------------------------------------------------------------------------
    def upload(self, path: str, data: bytes | IO[bytes]) -> None:
        """Write one artifact whole. It appears at once with all its bytes (an object store's PUT;
        a temporary file renamed into place on a folder), so a reader never sees half of it."""
        full = self._full(path)
        try:
            if self.local:
                _write_local(Path(full), data)
            elif isinstance(data, bytes | bytearray | memoryview):
                self.fs.pipe_file(full, bytes(data))
            else:
                with self.fs.open(full, "wb") as out:
                    shutil.copyfileobj(data, out, CHUNK)
        except Exception as exc:
            raise self._error("write", path, exc) from None

    def check(self) -> None:
        """Raise when the store cannot be reached with the credentials at hand (a listing)."""
        try:
            self.fs.ls(self.root, detail=False)
        except (FileNotFoundError, NotADirectoryError):
            pass  # nothing written yet: reachable
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise ArtifactStoreError(f"this machine could not reach the artifact store {self.uri}: "
                                     f"{reason[:500]}") from None


class _Chunks:
    """What :meth:`DirectStore.open` yields: ``iter_content`` as on a streamed HTTP answer."""

    def __init__(self, handle: IO[bytes], store: DirectStore, path: str) -> None:
        self._handle = handle
        self._store = store
        self._path = path

    def iter_content(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        while True:
            try:
                data = self._handle.read(chunk_size)
            except Exception as exc:
                raise self._store._error("read", self._path, exc) from None
            if not data:
                return
            yield data


def _write_local(target: Path, data: bytes | IO[bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                shutil.copyfileobj(data, out, CHUNK)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- filesystems, made once per store and credentials ---------------------------------------------
_lock = threading.Lock()
_filesystems: dict[tuple, Any] = {}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _filesystem(uri: str) -> tuple[Any, str, bool]:
    """(fsspec filesystem, the path of ``uri`` in it, local?) for a store reached directly."""
    scheme = scheme_of(uri)
    if scheme in LOCAL_SCHEMES:
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(), os.path.abspath(_local_path(uri)), True
    package, _ = STORE_PACKAGES[scheme]
    split = urlsplit(uri)
    env = os.environ
    if scheme == "s3":
        endpoint = env.get("MLFLOW_S3_ENDPOINT_URL") or None
        # botocore's own waits are a minute to connect: a store that does not answer is said sooner
        options: dict[str, Any] = {"client_kwargs": {},
                                   "config_kwargs": {"connect_timeout": S3_CONNECT_TIMEOUT,
                                                     "read_timeout": S3_READ_TIMEOUT}}
        if endpoint:
            options["client_kwargs"]["endpoint_url"] = endpoint
        if _truthy(env.get("MLFLOW_S3_IGNORE_TLS")):
            options["client_kwargs"]["verify"] = False
        if env.get("AWS_DEFAULT_REGION"):
            options["client_kwargs"]["region_name"] = env["AWS_DEFAULT_REGION"]
        secrets = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        key = ("s3", endpoint, env.get("MLFLOW_S3_IGNORE_TLS"), env.get("AWS_DEFAULT_REGION"),
               *(env.get(n) for n in ("AWS_ACCESS_KEY_ID", *secrets)))
        path = f"{split.netloc}{split.path}"
    elif scheme == "gs":
        options = {}
        secrets = ()
        key = ("gs", env.get("GOOGLE_APPLICATION_CREDENTIALS"))
        path = f"{split.netloc}{split.path}"
    else:  # wasbs://container@account.blob.core.windows.net/path, abfss://fs@account.dfs...
        container, _, host = split.netloc.partition("@")
        options = {"account_name": host.split(".", 1)[0]}
        if env.get("AZURE_STORAGE_CONNECTION_STRING"):
            options = {"connection_string": env["AZURE_STORAGE_CONNECTION_STRING"]}
        elif env.get("AZURE_STORAGE_ACCESS_KEY"):
            options["account_key"] = env["AZURE_STORAGE_ACCESS_KEY"]
        secrets = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY")
        key = ("azure", split.netloc, *(env.get(n) for n in secrets))
        path = f"{container}{split.path}"
    for name in secrets:  # never in an error message, a widget or a saved notebook
        register_secret(env.get(name))
    with _lock:
        fs = _filesystems.get(key)
        if fs is None:
            fs = _make(scheme, package, options)
            _filesystems[key] = fs
    return fs, path, False


def _make(scheme: str, package: str, options: dict) -> Any:
    try:
        __import__(package)
        import fsspec
    except ImportError:
        raise ImportError(package) from None
    protocol = {"wasbs": "abfs", "abfss": "abfs"}.get(scheme, scheme)
    # Fresh listings every time (a log grows, outputs appear), and a filesystem of our own.
    return fsspec.filesystem(protocol, use_listings_cache=False, skip_instance_cache=True, **options)


def store_for(artifact_uri: str, run_id: str, server: str = "the tracking server") -> DirectStore:
    """The direct store of a run whose artifacts the server does not proxy.

    Raises :class:`StoreMissing` naming the extra to install when its package is not importable.
    """
    try:
        fs, path, local = _filesystem(artifact_uri)
    except ImportError:
        raise StoreMissing(
            f"Run {run_id!r} keeps its artifacts in {artifact_uri}, which {server} does not "
            f"proxy: {install_hint(artifact_uri)}") from None
    return DirectStore(artifact_uri, run_id, fs, path, local)
