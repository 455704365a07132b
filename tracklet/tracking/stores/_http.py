"""HTTP for the REST store and the proxied artifact repository: a one-method transport, credentials, retries.

``Transport.send(HttpRequest) -> HttpResponse`` does the I/O and nothing else. :class:`StdlibTransport`
talks to a real server with ``http.client`` (one keep-alive connection per thread; no dependency);
``tracklet.server.inprocess.AsgiTransport`` calls an app in the same process (tests). Retries, backoff and
the error mapping live in :func:`send_with_retries`, so every transport gets them.
"""

from __future__ import annotations

import base64
import http.client
import random
import ssl
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlparse

from tracklet import env

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def env_number(name: str, default, cast):
    """``TRACKLET_<name>`` (or ``MLFLOW_<name>``) as a number; ``default`` when unset or not a number."""
    try:
        return cast(env.get(name, str(default)))
    except ValueError:
        return default


class TransportError(ConnectionError):
    """The request could not be delivered or answered (refused, reset, timed out, TLS failure).
    ``sent`` is False only when nothing reached the server, so even a non-idempotent call may be retried."""

    def __init__(self, message: str, sent: bool = True):
        super().__init__(message)
        self.sent = sent


@dataclass
class HttpRequest:
    method: str
    path: str  # absolute path on the server, e.g. /api/2.0/mlflow/runs/get
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | object | None = None  # bytes, or a binary file object (streamed; needs content-length)
    headers: dict[str, str] = field(default_factory=dict)
    download_to: str | None = None  # write a 2xx body to this file instead of keeping it in memory


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class Transport:
    """Sends one request and returns the response; raises TransportError when there is none."""

    def send(self, request: HttpRequest) -> HttpResponse:  # pragma: no cover - interface
        raise NotImplementedError


def _ssl_context() -> ssl.SSLContext:
    """TLS per ``TRACKING_INSECURE_TLS``, ``TRACKING_SERVER_CERT_PATH`` (CA bundle), ``TRACKING_CLIENT_CERT_PATH``."""
    context = ssl.create_default_context(cafile=env.get("TRACKING_SERVER_CERT_PATH"))
    if env.get_bool("TRACKING_INSECURE_TLS"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client_cert = env.get("TRACKING_CLIENT_CERT_PATH")
    if client_cert:
        context.load_cert_chain(client_cert)
    return context


class StdlibTransport(Transport):
    """``http.client`` with one persistent connection per thread (keep-alive saves a TCP handshake per call)."""

    CHUNK = 1024 * 1024

    def __init__(self, base_url: str, timeout: float | None = None):
        parsed = urlparse(base_url)
        self.scheme, self.host, self.port = parsed.scheme, parsed.hostname or "localhost", parsed.port
        self.timeout = timeout if timeout is not None else env_number("HTTP_REQUEST_TIMEOUT", 120.0, float)
        # a host that does not answer at all (down, firewalled) is given up on sooner than a slow request
        self.connect_timeout = min(self.timeout, env_number("HTTP_CONNECT_TIMEOUT", 5.0, float))
        self._local = threading.local()
        self._context = _ssl_context() if self.scheme == "https" else None

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._context)
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def send(self, request: HttpRequest) -> HttpResponse:
        url = request.path + ("?" + urlencode(request.query) if request.query else "")
        for attempt in (0, 1):  # a kept-alive connection the server closed meanwhile fails once: reconnect
            conn = self._connection()
            fresh = conn.sock is None
            try:
                if fresh:
                    self._connect(conn)
                conn.request(request.method, url, body=request.body, headers=request.headers)
                response = conn.getresponse()
                return self._read(response, request)
            except TransportError:
                raise
            except ConnectionRefusedError as exc:
                self._drop()
                raise TransportError(f"Connection refused by {self.host}:{self.port}: {exc}", sent=False) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop()
                if attempt == 0 and not fresh and not hasattr(request.body, "read"):
                    continue
                raise TransportError(f"Connection to {self.host}:{self.port} lost: {exc}") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise TransportError(f"Request to {self.host}:{self.port} failed: {exc!r}") from None
        raise AssertionError("unreachable")

    def _connect(self, conn: http.client.HTTPConnection) -> None:
        """Open the connection within ``connect_timeout``; a failure here provably sent nothing."""
        conn.timeout = self.connect_timeout
        try:
            conn.connect()
        except ConnectionRefusedError:
            raise
        except OSError as exc:
            self._drop()
            raise TransportError(f"Cannot connect to {self.host}:{self.port}: {exc!r}", sent=False) from None
        finally:
            conn.timeout = self.timeout
        conn.sock.settimeout(self.timeout)

    def _read(self, response, request: HttpRequest) -> HttpResponse:
        headers = {k.lower(): v for k, v in response.getheaders()}
        if request.download_to and 200 <= response.status < 300:
            with open(request.download_to, "wb") as out:
                while chunk := response.read(self.CHUNK):
                    out.write(chunk)
            body = b""
        else:
            body = response.read()
        if headers.get("connection", "").lower() == "close":
            self._drop()
        return HttpResponse(response.status, body, headers)

    def close(self) -> None:
        self._drop()


def auth_headers() -> dict[str, str]:
    """``Authorization`` from ``TRACKING_TOKEN`` (Bearer) or ``TRACKING_USERNAME``/``PASSWORD`` (Basic)."""
    token = env.get("TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = env.get("TRACKING_USERNAME"), env.get("TRACKING_PASSWORD")
    if user and password:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    return {}


def send_with_retries(
    transport: Transport, request: HttpRequest, idempotent: bool, retry_connection: bool = True
) -> HttpResponse:
    """Send ``request``, retrying with exponential backoff (and jitter) on connection errors, 429 and 5xx.

    A call that is not idempotent is retried only when it provably was not processed (the connection was
    refused, or the server answered 429). ``retry_connection=False`` raises a connection error at once (the
    offline spool keeps the call instead of making the caller wait). Tuned by
    ``HTTP_REQUEST_MAX_RETRIES`` (default 5) and ``HTTP_REQUEST_BACKOFF_FACTOR`` (seconds, default 0.1)."""
    retries = max(0, env_number("HTTP_REQUEST_MAX_RETRIES", 5, int))
    factor = max(0.0, env_number("HTTP_REQUEST_BACKOFF_FACTOR", 0.1, float))
    attempt = 0
    while True:
        if hasattr(request.body, "seek"):  # a streamed file body is re-read from the start on a retry
            request.body.seek(0)
        try:
            response = transport.send(request)
        except TransportError as exc:
            if not retry_connection or attempt >= retries or (exc.sent and not idempotent):
                raise
            delay = factor * (2**attempt)
        else:
            # 429 means "not processed, come back later": safe to retry even a call that is not idempotent
            if (
                response.status not in RETRY_STATUSES
                or attempt >= retries
                or (response.status != 429 and not idempotent)
            ):
                return response
            delay = _retry_after(response) or factor * (2**attempt)
        time.sleep(min(delay, 60.0) * (1 + random.random() * 0.25))
        attempt += 1


def parse_json_response(response: HttpResponse, what: str) -> dict:
    """The JSON object of a 2xx response; otherwise the server's ``{"error_code", "message"}`` raised as the
    matching TrackletException (or a RestException quoting the start of a non-JSON body)."""
    import json

    from tracklet.exceptions import RestException

    try:
        data = json.loads(response.body) if response.body else {}
    except ValueError:
        data = None
    if 200 <= response.status < 300 and isinstance(data, dict):
        return data
    if isinstance(data, dict) and data.get("error_code"):
        raise RestException.from_json(data, response.status)
    snippet = response.body[:200].decode("utf-8", "replace")
    raise RestException(f"{what} answered HTTP {response.status}: {snippet}", "INTERNAL_ERROR")


def _retry_after(response: HttpResponse) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return float(value)
    except ValueError:
        return None
