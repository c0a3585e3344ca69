"""HTTP transport to a tracking server: one ``requests.Session`` per workspace.

Retries come from urllib3's ``Retry`` (connection errors and 5xx answers on idempotent calls),
every call has a connect and a read timeout (a server that accepts and never answers costs an
interactive call ``INTERACTIVE_TIMEOUT`` once: read timeouts are retried only by the runner, a few
times), credentials (:mod:`~steprun_widgets.core.credentials`) travel only in the
``Authorization`` header, and every failure becomes a :class:`~steprun_widgets.errors.ServiceError`
that names the URL and no secret.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from steprun_widgets.core import credentials as creds
from steprun_widgets.errors import RunNotFoundError, ServiceError, redact, register_secret

API = "/api/2.0/mlflow"
#: Artifact endpoints: a GET answered 500 there is how MLflow 2.x says "no such file" (or that the
#: store cannot be read), never worth three retries; 502/503/504 (a proxy, a restart) still are.
ARTIFACT_READ_PATHS = ("/api/2.0/mlflow-artifacts/artifacts", "/get-artifact", f"{API}/artifacts/list")
#: Endpoints that create something: a retried request could create it twice, so 5xx answers and
#: read errors are not retried for them (connection errors still are: nothing was sent).
NON_IDEMPOTENT = (f"{API}/runs/create", f"{API}/experiments/create")
#: (connect, read) seconds of an interactive call (a notebook cell, a widget's poll, the CLI): a
#: silent server is an error within seconds, and a read timeout is not retried.
INTERACTIVE_TIMEOUT = (5.0, 10.0)
DEFAULT_TIMEOUT = INTERACTIVE_TIMEOUT
#: (connect, read) seconds of the runner's calls: it uploads large outputs and waits out restarts.
RUNNER_TIMEOUT = (5.0, 30.0)
#: How often the runner retries a read timeout (a silent server): 4 x 30 s, about two minutes.
RUNNER_READ_TIMEOUT_RETRIES = 3
#: A PUT of an artifact answered 500 is the server's store failing (a full disk, no permission): it
#: is tried this many times more, not for the whole retry budget (502/503/504 still are).
ARTIFACT_PUT_500_RETRIES = 2
_RETRY_STATUSES = (500, 502, 503, 504)
_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


class BoundedRetry(Retry):
    """urllib3's ``Retry`` that retries a read timeout at most ``read_timeout_retries`` times.

    Other read errors (a pooled connection the server closed, a restart mid-answer) keep the whole
    read budget: they end fast. A read timeout costs the full read timeout each time.
    """

    read_timeout_retries = 0

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, ReadTimeoutError):
            seen = sum(1 for h in self.history if isinstance(h.error, ReadTimeoutError))
            if seen >= self.read_timeout_retries:
                raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


class FollowingRetry(BoundedRetry):
    """``BoundedRetry``, which also stops retrying a refused connection at once when ``moved()``
    says the server is now elsewhere (or was started again): the transport then follows it."""

    moved: Callable[[], bool] | None = None

    def new(self, **kw: Any) -> FollowingRetry:
        retry = super().new(**kw)
        retry.moved = self.moved
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and response is None and self.moved is not None and \
                isinstance(error, NewConnectionError):
            try:
                moved = self.moved()
            except Exception:  # noqa: BLE001 - looking for it failed: keep retrying where it was
                moved = False
            if moved:
                raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_retry(total: int, kind: type[Retry] = FollowingRetry, read_timeout_retries: int = 0) -> Retry:
    """The retry policy for idempotent calls (all of MLflow's reads, tags, updates and uploads)."""
    if issubclass(kind, BoundedRetry):
        kind = type(kind.__name__, (kind,), {"read_timeout_retries": read_timeout_retries})
    return kind(
        total=total,
        connect=total,
        read=total,
        status=total,
        backoff_factor=0.25,
        backoff_max=4.0,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )


class ArtifactRetry(FollowingRetry):
    """``make_retry``'s policy, except that a GET answered 500 is final (see ARTIFACT_READ_PATHS)
    and a PUT answered 500 is retried only ``ARTIFACT_PUT_500_RETRIES`` times."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method == "GET" and status_code == 500:
            return False
        if method == "PUT" and status_code == 500:
            seen = sum(1 for h in self.history if h.status == 500)
            if seen >= ARTIFACT_PUT_500_RETRIES:
                return False
        return super().is_retry(method, status_code, has_retry_after)


def display_url(url: str) -> str:
    """A URL fit for a message: without credentials or query string (IPv6 hosts keep brackets)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return redact(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def server_base(path: str) -> str:
    """The server's base path, from the path of a tracking URI.

    A URI copied from an API call (``https://host/mlflow/api/2.0/mlflow``) names the same server as
    ``https://host/mlflow``: the API suffix is dropped so it is not doubled.
    """
    path = path.rstrip("/")
    for suffix in (API, "/ajax-api/2.0/mlflow"):
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


class Transport:
    """Talks HTTP to one tracking server; owns its session, retries, timeouts and credentials."""

    def __init__(self, base_url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, retries: int = 3,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, read_timeout_retries: int = 0) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(
                f"Tracking URI {display_url(base_url)!r} is not an http(s) URL of a tracking server",
                url=base_url,
            )
        self.credentials = creds.resolve(token=token, username=username, password=password,
                                         url_username=parts.username, url_password=parts.password)
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        # Credentials in the URL go in the Authorization header, never in the URL we keep.
        self.base_url = urlunsplit((parts.scheme, netloc, server_base(parts.path), "", ""))
        self.display_url = display_url(self.base_url)
        self.timeout = timeout
        self.retries = retries
        self.read_timeout_retries = read_timeout_retries
        #: How errors name the server ("http://host:port", plus the embedded server's root when local).
        self.place = self.display_url
        #: Called when the server cannot be reached at all (refused connection): returns the URL to
        #: retry at once, or None. ``Workspace.local`` sets it to start its server again (it stops
        #: itself when idle); the local runner to re-read its root's server record.
        self.on_unreachable: Callable[[], str | None] | None = None
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "steprun-widgets"
        self.session.verify = self.credentials.verify
        if self.credentials.client_cert:
            self.session.cert = self.credentials.client_cert
        if self.credentials.kind == creds.BASIC:  # MLflow prefers basic auth over a token
            self.session.auth = (self.credentials.username, self.credentials.password)
            # what travels in the header: a server that echoes it must not put it in a message either
            register_secret(base64.b64encode(
                f"{self.credentials.username}:{self.credentials.password}".encode()).decode())
        elif self.credentials.kind == creds.BEARER:
            self.session.headers["Authorization"] = f"Bearer {self.credentials.token}"
        self._mount()
        #: Count of HTTP requests sent (retries excluded); benchmarks and tests read it.
        self.request_count = 0

    def _mount(self) -> None:
        retries = self.retries
        policies = [make_retry(retries, FollowingRetry, self.read_timeout_retries),
                    make_retry(retries, ArtifactRetry, self.read_timeout_retries),
                    FollowingRetry(total=retries, connect=retries, read=0, status=0, other=0,
                                   backoff_factor=0.25, raise_on_status=False)]
        for policy in policies:
            policy.moved = self._moved if self.on_unreachable is not None else None
        idempotent, reads, once = (HTTPAdapter(max_retries=p, pool_maxsize=16) for p in policies)
        self.session.mount(self.base_url, idempotent)
        for path in ARTIFACT_READ_PATHS:
            self.session.mount(self.base_url + path, reads)
        for path in NON_IDEMPOTENT:
            self.session.mount(self.base_url + path, once)

    def follow(self, find: Callable[[], str | None] | None) -> None:
        """Follow the server when it moves or stops: ``find()`` returns its URL now (starting it
        again if that is the caller's job), or None when there is none."""
        self.on_unreachable = find
        self._mount()

    def _moved(self) -> bool:
        """Whether the server answers elsewhere now (asked on a refused connection)."""
        url = self.on_unreachable() if self.on_unreachable is not None else None
        return bool(url) and url.rstrip("/") != self.base_url

    def rebase(self, base_url: str) -> None:
        """Talk to the same server at a new address (an embedded server restarted on another port)."""
        parts = urlsplit(base_url.strip())
        base = urlunsplit((parts.scheme, parts.netloc, server_base(parts.path), "", ""))
        if base == self.base_url:
            return
        old_display = self.display_url
        self.base_url = base
        self.display_url = display_url(base)
        self.place = self.place.replace(old_display, self.display_url)
        self._mount()

    def _found_again(self) -> bool:
        """Ask ``on_unreachable`` for the server's address; True when there is one to retry at."""
        if self.on_unreachable is None:
            return False
        try:
            url = self.on_unreachable()
        except Exception:  # noqa: BLE001 - starting it failed: the caller reports the original error
            return False
        if not url:
            return False
        self.rebase(url)
        return True

    @property
    def token(self) -> str | None:
        return self.credentials.token

    @property
    def username(self) -> str | None:
        return self.credentials.username

    @property
    def password(self) -> str | None:
        return self.credentials.password

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                stream: bool = False, timeout: tuple[float, float] | None = None,
                ok_statuses: tuple[int, ...] = ()) -> requests.Response:
        """Send one request; return the response when 2xx (or in ``ok_statuses``), else raise.

        A server that cannot be reached at all is looked for once through ``on_unreachable``.
        """
        try:
            return self._request(method, path, params=params, json_body=json_body, data=data,
                                 headers=headers, stream=stream, timeout=timeout, ok_statuses=ok_statuses)
        except _Unreachable as gone:
            replayable = data is None or isinstance(data, (bytes, str))  # a stream may be half-read
            if not replayable or not self._found_again():
                raise gone.error from None
        try:
            return self._request(method, path, params=params, json_body=json_body, data=data,
                                 headers=headers, stream=stream, timeout=timeout, ok_statuses=ok_statuses)
        except _Unreachable as gone:
            raise gone.error from None

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 json_body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                 stream: bool = False, timeout: tuple[float, float] | None = None,
                 ok_statuses: tuple[int, ...] = ()) -> requests.Response:
        url = self.url(path)
        self.request_count += 1
        try:
            # verify/cert per request: on the session, REQUESTS_CA_BUNDLE would override them.
            response = self.session.request(
                method, url, params=params, json=json_body, data=data, headers=headers,
                stream=stream, timeout=timeout or self.timeout, verify=self.credentials.verify,
                cert=self.credentials.client_cert,
            )
        except requests.exceptions.Timeout as exc:
            raise ServiceError(
                f"The tracking server at {display_url(url)} is not answering: it did not answer within "
                f"{(timeout or self.timeout)[1]:g} s ({type(exc).__name__})", url=url,
                transient=True) from None
        except requests.exceptions.RetryError as exc:
            raise ServiceError(f"The tracking server at {display_url(url)} kept failing after "
                               f"{self.retries} retries: {_reason(exc)}", url=url,
                               transient=True) from None
        except requests.exceptions.SSLError as exc:
            raise ServiceError(
                f"TLS with the tracking server at {display_url(url)} failed: {_reason(exc)} (set "
                f"{creds.SERVER_CERT_ENV} to the CA bundle that signed its certificate, "
                f"{creds.CLIENT_CERT_ENV} if it asks for a client certificate, or "
                f"{creds.INSECURE_TLS_ENV}=true to skip the check)", url=url) from None
        except requests.exceptions.ConnectionError as exc:
            if _is_read_timeout(exc):  # retried read timeouts arrive as a ConnectionError
                tries = self.read_timeout_retries + 1
                raise ServiceError(
                    f"The tracking server at {display_url(url)} is not answering: it did not answer within "
                    f"{(timeout or self.timeout)[1]:g} s"
                    + (f" ({tries} tries)" if tries > 1 else ""), url=url, transient=True) from None
            raise _Unreachable(ServiceError(
                f"Cannot reach the tracking server at {display_url(url)} after {self.retries} "
                f"retries: {_reason(exc)}", url=url, transient=True)) from None
        except requests.exceptions.RequestException as exc:
            raise ServiceError(f"Request to {display_url(url)} failed: {_reason(exc)}",
                               url=url, transient=True) from None
        if response.ok or response.status_code in ok_statuses:
            return response
        raise error_from_response(response, url, self.credentials)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        return parse_json(self.request("GET", path, params=params), self.url(path))

    def post_json(self, path: str, body: Any) -> dict:
        return parse_json(self.request("POST", path, json_body=body), self.url(path))

    def close(self) -> None:
        self.session.close()


class _Unreachable(Exception):
    """The server refused or dropped the connection: carries the error to raise if not found again."""

    def __init__(self, error: ServiceError) -> None:
        super().__init__(str(error))
        self.error = error


def _is_read_timeout(exc: BaseException) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, short and free of secrets."""
    while exc.__context__ is not None and exc.args and isinstance(exc.args[0], BaseException):
        exc = exc.args[0]
    text = str(exc)
    inner = getattr(exc, "reason", None)
    if inner is not None:
        text = str(inner)
    text = re.sub(r"<urllib3[^>]*>:?\s*", "", text)
    return redact(text)[:300]


def parse_json(response: requests.Response, url: str) -> dict:
    """Decode an MLflow JSON answer; anything else becomes a clear ServiceError."""
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        ctype = response.headers.get("Content-Type", "unknown")
        raise ServiceError(
            f"The server at {display_url(url)} answered HTTP {response.status_code} with "
            f"{ctype!r} content that is not MLflow JSON: is this an MLflow tracking server?",
            url=url, status_code=response.status_code) from None
    if not isinstance(body, dict):
        raise ServiceError(f"The server at {display_url(url)} answered JSON that is not an object: "
                           "is this an MLflow tracking server?", url=url,
                           status_code=response.status_code)
    return body


def error_from_response(response: requests.Response, url: str,
                        credentials: creds.Credentials | None = None) -> ServiceError:
    """Turn a non-2xx answer into a ServiceError carrying MLflow's error code when there is one.

    401/403 say which kind of credential was sent (never its value); a 404 HTML page (not MLflow's
    JSON) hints at a wrong URL or a missing path prefix. The server's own words come last, short.
    """
    status = response.status_code
    code = None
    detail = ""
    html = False
    try:
        body = response.json()
        if isinstance(body, dict):
            code = body.get("error_code")
            detail = str(body.get("message", ""))
    except ValueError:
        ctype = response.headers.get("Content-Type", "")
        html = "html" in ctype
        said = server_words(response.text, html)
        kind = "an HTML error page" if html else f"a {ctype or 'non-JSON'} body"
        detail = f"{kind}: {said!r}" if said else kind
    message = f"HTTP {status} from {display_url(url)}"
    if status in (401, 403):
        sent = (credentials or creds.Credentials()).describe()
        what = "refused the credentials" if status == 401 else "denied access with these credentials"
        message += f" (the server {what}; {sent})"
    elif status == 404 and not code:
        message += (" (not an MLflow API answer: is the tracking URI right? A server behind a "
                    "path prefix needs the prefix in the URI, e.g. https://host/mlflow)")
    if code:
        message += f" [{code}]"
    if detail:
        message += f": {detail[:500]}"
    error = ServiceError(message, url=url, status_code=status, error_code=code,
                         transient=status >= 500 or status == 429)
    error.server_message = redact(detail)
    return error


def server_words(text: str, html: bool, limit: int = 200) -> str:
    """The short thing a server said in a non-JSON body: an HTML page's title (else its heading,
    else its text), or the plain text itself."""
    if html:
        title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
        heading = re.search(r"(?is)<h1[^>]*>(.*?)</h1>", text)
        text = (title or heading).group(1) if (title or heading) else re.sub(r"(?s)<[^>]*>", " ", text)
    words = " ".join(text.split())
    return redact(words[:limit])


def check_run_id(run_id: str) -> str:
    """Refuse a run id that could not be one (path characters, spaces, empty) before any request."""
    if not isinstance(run_id, str) or not _SAFE_RUN_ID.match(run_id) or ".." in run_id:
        raise RunNotFoundError(f"{run_id!r} is not a valid run id (letters, digits, '-', '_', '.')")
    return run_id
