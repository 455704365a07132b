"""An in-process transport: the REST store talks to a ``create_app`` app with no socket (tests, embedding)."""

from __future__ import annotations

import warnings

from tracklet.tracking.stores._http import HttpRequest, HttpResponse, Transport, TransportError


class AsgiTransport(Transport):
    """Send requests straight to an ASGI ``app`` (through Starlette's test client: a real ASGI cycle, no network)."""

    def __init__(self, app):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the test client's own deprecation notice about httpx
            from starlette.testclient import TestClient

            self._client = TestClient(app, raise_server_exceptions=False)

    def send(self, request: HttpRequest) -> HttpResponse:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        try:
            response = self._client.request(
                request.method, request.path, params=request.query or None, content=body, headers=request.headers
            )
        except Exception as exc:  # the app could not be called at all
            raise TransportError(f"In-process request failed: {exc!r}") from None
        if request.download_to and 200 <= response.status_code < 300:
            with open(request.download_to, "wb") as out:
                out.write(response.content)
            return HttpResponse(response.status_code, b"", dict(response.headers))
        return HttpResponse(response.status_code, response.content, dict(response.headers))

    def close(self) -> None:
        self._client.close()


def rest_store_over_app(store, artifacts_destination: str | None = None, **app_options):
    """A RestStore wired to ``create_app(store, ...)`` in this process; closing it closes ``store`` too."""
    from tracklet.server.app import create_app
    from tracklet.tracking.artifacts.local import LocalArtifactRepository
    from tracklet.tracking.stores.rest import RestStore

    repo = LocalArtifactRepository(artifacts_destination) if artifacts_destination else None
    rest = RestStore("http://testserver", AsgiTransport(create_app(store, repo, **app_options)))

    def close() -> None:
        RestStore.close(rest)
        store.close()

    rest.close = close
    return rest
