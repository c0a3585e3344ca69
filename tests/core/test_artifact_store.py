"""The direct artifact store (core/artifact_store.py) on a folder, its schemes and extras, and the
"not found" texts of every store that a proxying server passes on in an HTTP 500."""

from __future__ import annotations

import pytest

from steprun_widgets.core import artifact_store
from steprun_widgets.core.rest import is_missing_artifact
from steprun_widgets.errors import ArtifactStoreError, ServiceError, redact


@pytest.mark.parametrize(("uri", "direct"), [
    ("s3://bucket/root/1/abc/artifacts", True),
    ("gs://bucket/root/1/abc/artifacts", True),
    ("wasbs://c@acct.blob.core.windows.net/root/1/abc/artifacts", True),
    ("abfss://fs@acct.dfs.core.windows.net/root/1/abc/artifacts", True),
    ("mlflow-artifacts:/1/abc/artifacts", False),
    ("mlflow-artifacts://host:5000/1/abc/artifacts", False),
    ("file:///nonexistent-steprun-root/1/abc/artifacts", False),  # the server's folder, not here
    ("/nonexistent-steprun-root/1/abc/artifacts", False),
    ("dbfs:/databricks/mlflow/1/abc/artifacts", False),  # not a store of ours: the server serves it
])
def test_which_stores_are_reached_directly(uri, direct):
    assert artifact_store.is_direct(uri) is direct


def test_a_folder_here_is_reached_directly(tmp_path):
    run_uri = f"file://{tmp_path}/1/abc/artifacts"
    assert artifact_store.is_direct(run_uri) and artifact_store.is_direct(str(tmp_path / "1"), levels=1)


def test_a_folder_store_round_trip(tmp_path):
    store = artifact_store.store_for(f"file://{tmp_path}/1/abc/artifacts", "abc")
    assert store.read_range("logs/stdout.txt", 0) is None and store.list("logs") == []
    store.upload("logs/stdout.txt", "héllo\nworld\n".encode())
    with open(tmp_path / "src.bin", "wb") as f:
        f.write(bytes(range(256)))
    with open(tmp_path / "src.bin", "rb") as f:
        store.upload("outputs/o/deep/x.bin", f)
    assert store.read_range("logs/stdout.txt", 0) == ("héllo\nworld\n".encode(), 13)
    assert store.read_range("logs/stdout.txt", 7, 3) == (b"wor", 13)
    assert store.read_range("logs/stdout.txt", 13) == (b"", 13)
    assert store.read_tail("logs/stdout.txt", 6) == b"world\n"
    listed = [(e.path, e.is_dir, e.size) for e in store.list("")]
    assert listed == [("logs", True, None), ("outputs", True, None)]
    assert [(e.path, e.size) for e in store.list("outputs/o/deep")] == [("outputs/o/deep/x.bin", 256)]
    assert store.list("logs/stdout.txt") == []  # a file lists as nothing, as in MLflow
    with store.open("outputs/o/deep/x.bin") as chunks:
        assert b"".join(chunks.iter_content(100)) == bytes(range(256))
    with pytest.raises(ArtifactStoreError, match="'outputs/missing' of run 'abc' is not in"), \
            store.open("outputs/missing"):
        pass
    # no temporary file left beside what was written
    assert sorted(p.name for p in (tmp_path / "1/abc/artifacts/logs").iterdir()) == ["stdout.txt"]


@pytest.mark.parametrize(("scheme", "package", "extra"), [
    ("s3://b/r/1/a/artifacts", "s3fs", "s3"), ("gs://b/r/1/a/artifacts", "gcsfs", "gcs"),
    ("wasbs://c@acct.blob.core.windows.net/r/1/a/artifacts", "adlfs", "azure"),
])
def test_a_missing_package_names_its_extra(monkeypatch, scheme, package, extra):
    monkeypatch.setitem(__import__("sys").modules, package, None)
    with pytest.raises(artifact_store.StoreMissing) as info:
        artifact_store.store_for(scheme, "run1", "the tracking server at http://h:5000")
    said = str(info.value)
    assert f'pip install "steprun-widgets[{extra}]"' in said and "--serve-artifacts" in said
    assert "run1" in said and scheme in said


def test_a_folder_store_without_fsspec_says_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "fsspec", None)
    monkeypatch.setitem(__import__("sys").modules, "fsspec.implementations.local", None)
    with pytest.raises(artifact_store.StoreMissing) as info:
        artifact_store.store_for(f"file://{tmp_path}/1/abc/artifacts", "abc")
    assert "pip install fsspec" in str(info.value) and "--serve-artifacts" in str(info.value)


def test_store_secrets_are_masked(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key-123")
    monkeypatch.setitem(__import__("sys").modules, "s3fs", None)
    with pytest.raises(artifact_store.StoreMissing):
        artifact_store.store_for("s3://b/r/1/a/artifacts", "run1")
    assert redact("botocore said very-secret-key-123") == "botocore said ***"


def _answer(status: int, message: str) -> ServiceError:
    error = ServiceError(f"HTTP {status}", url="http://h/api/2.0/mlflow-artifacts/artifacts/1/x",
                         status_code=status, error_code="INTERNAL_ERROR" if status == 500 else None)
    error.server_message = message
    return error


@pytest.mark.parametrize("message", [
    "No such file or directory: '/srv/mlruns/1/x/artifacts/logs/stdout.txt'",  # MLflow 2.x, a folder
    "An error occurred (404) when calling the HeadObject operation: Not Found",  # S3 via botocore
    "An error occurred (NoSuchKey) when calling the GetObject operation: The specified key does not exist.",
    "404 GET https://storage.googleapis.com/download/storage/v1/b/bkt/o/x?alt=media: No such object: bkt/x",
    "google.api_core.exceptions.NotFound: 404 No such object: bkt/x",
    "ErrorCode:BlobNotFound",
    "The specified blob does not exist.\nRequestId:abc",
    "ErrorCode:PathNotFound The specified path does not exist.",
    "azure.core.exceptions.ResourceNotFoundError: Operation returned an invalid status 'Not Found'",
])
def test_not_found_in_the_words_of_every_store_is_absent(message):
    assert is_missing_artifact(_answer(500, message))


@pytest.mark.parametrize("message", [
    "Could not connect to the endpoint URL: 'http://127.0.0.1:9/bkt/x'",
    "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
    "An error occurred (403) when calling the HeadObject operation: Forbidden",
    "Internal Server Error",
])
def test_other_store_failures_stay_errors(message):
    assert not is_missing_artifact(_answer(500, message))
