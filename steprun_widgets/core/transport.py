"""HTTP transport to a tracking server: one ``requests.Session`` per workspace.

Retries come from urllib3's ``Retry`` (connection errors and 5xx answers on idempotent calls),
every call has a timeout, credentials (HTTP basic auth, else a bearer token) travel only in the
``Authorization`` header, and every failure
becomes a :class:`~steprun_widgets.errors.ServiceError` that names the URL and no secret.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from steprun_widgets.errors import RunNotFoundError, ServiceError, redact, register_secret

API = "/api/2.0/mlflow"
#: Endpoints that create something: a retried request could create it twice, so 5xx answers and
#: read errors are not retried for them (connection errors still are: nothing was sent).
NON_IDEMPOTENT = (f"{API}/runs/create", f"{API}/experiments/create")
DEFAULT_TIMEOUT = (5.0, 30.0)
_RETRY_STATUSES = (500, 502, 503, 504)
_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def make_retry(total: int) -> Retry:
    """The retry policy for idempotent calls (all of MLflow's reads, tags, updates and uploads)."""
    return Retry(
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


def display_url(url: str) -> str:
    """A URL fit for a message: without credentials or query string."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return redact(urlunsplit((parts.scheme, netloc, parts.path, "", "")))


class Transport:
    """Talks HTTP to one tracking server; owns its session, retries, timeouts and credentials."""

    def __init__(self, base_url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, retries: int = 3,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServiceError(
                f"Tracking URI {display_url(base_url)!r} is not an http(s) URL of a tracking server",
                url=base_url,
            )
        self.base_url = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.display_url = display_url(self.base_url)
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "steprun-widgets"
        # HTTP basic auth when a user name and a password are known (arguments first, then the URL, then
        # MLflow's environment variables), else the bearer token; basic auth wins when both are set.
        if username is None:
            username = parts.username or os.environ.get("MLFLOW_TRACKING_USERNAME") or None
        if password is None:
            password = parts.password or os.environ.get("MLFLOW_TRACKING_PASSWORD") or None
        register_secret(token)
        register_secret(password)
        self._token = token
        self._username = username if username and password else None
        self._password = password if username and password else None
        if self._username:
            self.session.auth = (self._username, self._password)
            # what travels in the header: a server that echoes it must not put it in a message either
            register_secret(base64.b64encode(f"{self._username}:{self._password}".encode()).decode())
        elif token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        idempotent = HTTPAdapter(max_retries=make_retry(retries), pool_maxsize=16)
        once = HTTPAdapter(max_retries=Retry(total=retries, connect=retries, read=0, status=0,
                                             other=0, backoff_factor=0.25, raise_on_status=False))
        self.session.mount(self.base_url, idempotent)
        for path in NON_IDEMPOTENT:
            self.session.mount(self.base_url + path, once)
        #: Count of HTTP requests sent (retries excluded); benchmarks and tests read it.
        self.request_count = 0

    @property
    def token(self) -> str | None:
        return self._token

    @property
    def username(self) -> str | None:
        """The user name sent with HTTP basic auth, or None when basic auth is not used."""
        return self._username

    @property
    def password(self) -> str | None:
        return self._password

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Any = None, headers: Mapping[str, str] | None = None,
                stream: bool = False, timeout: tuple[float, float] | None = None,
                ok_statuses: tuple[int, ...] = ()) -> requests.Response:
        """Send one request; return the response when 2xx (or in ``ok_statuses``), else raise."""
        url = self.url(path)
        self.request_count += 1
        try:
            response = self.session.request(
                method, url, params=params, json=json_body, data=data, headers=headers,
                stream=stream, timeout=timeout or self.timeout,
            )
        except requests.exceptions.Timeout as exc:
            raise ServiceError(
                f"The tracking server at {display_url(url)} did not answer within "
                f"{(timeout or self.timeout)[1]:g} s ({type(exc).__name__})", url=url,
                transient=True) from None
        except requests.exceptions.RetryError as exc:
            raise ServiceError(f"The tracking server at {display_url(url)} kept failing after "
                               f"{self.retries} retries: {_reason(exc)}", url=url,
                               transient=True) from None
        except requests.exceptions.ConnectionError as exc:
            if _is_read_timeout(exc):  # retried read timeouts arrive as a ConnectionError
                raise ServiceError(
                    f"The tracking server at {display_url(url)} did not answer within "
                    f"{(timeout or self.timeout)[1]:g} s ({self.retries} retries)", url=url,
                    transient=True) from None
            raise ServiceError(
                f"Cannot reach the tracking server at {display_url(url)} after {self.retries} "
                f"retries: {_reason(exc)}", url=url, transient=True) from None
        except requests.exceptions.RequestException as exc:
            raise ServiceError(f"Request to {display_url(url)} failed: {_reason(exc)}",
                               url=url, transient=True) from None
        if response.ok or response.status_code in ok_statuses:
            return response
        raise error_from_response(response, url)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        return parse_json(self.request("GET", path, params=params), self.url(path))

    def post_json(self, path: str, body: Any) -> dict:
        return parse_json(self.request("POST", path, json_body=body), self.url(path))

    def close(self) -> None:
        self.session.close()


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


def error_from_response(response: requests.Response, url: str) -> ServiceError:
    """Turn a non-2xx answer into a ServiceError carrying MLflow's error code when there is one."""
    code = None
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            code = body.get("error_code")
            detail = str(body.get("message", ""))
    except ValueError:
        ctype = response.headers.get("Content-Type", "")
        detail = "an HTML error page" if "html" in ctype else f"a {ctype or 'non-JSON'} body"
    hint = " (check the tracking token)" if response.status_code in (401, 403) else ""
    message = f"HTTP {response.status_code} from {display_url(url)}{hint}"
    if code:
        message += f" [{code}]"
    if detail:
        message += f": {detail[:500]}"
    return ServiceError(message, url=url, status_code=response.status_code, error_code=code,
                        transient=response.status_code >= 500 or response.status_code == 429)


def check_run_id(run_id: str) -> str:
    """Refuse a run id that could not be one (path characters, spaces, empty) before any request."""
    if not isinstance(run_id, str) or not _SAFE_RUN_ID.match(run_id) or ".." in run_id:
        raise RunNotFoundError(f"{run_id!r} is not a valid run id (letters, digits, '-', '_', '.')")
    return run_id
