"""The bot's HTTP servers: the public one (NEWSBOT_HTTP_PORT), to which front ends contribute
routes, and the metrics one (NEWSBOT_METRICS_HOST:NEWSBOT_METRICS_PORT, loopback by default).

    routes = [*health_routes(monitor), *slack.routes(), *telegram.routes()]
    async with HttpServer(settings.http_port, build_http_app(routes)) as server:
        ...                                              # server.port is the bound port
    async with HttpServer(settings.metrics_port, build_http_app(monitor_routes(monitor)),
                          host=settings.metrics_host) as metrics:
        ...

`health_routes` serves `GET /healthz` (JSON; 200 when healthy, 503 with the reasons
otherwise) from a `bot.monitor.Monitor`; `monitor_routes` serves it and `GET /metrics` (the
Prometheus text format), which stays off the public server: it tells anyone who can reach it
how busy the bot is and which feeds fail.

aiohttp freezes an application's router when it starts, so every route is added before the
server is entered. Nothing listens until `__aenter__`; `__aexit__` stops accepting, lets
requests in flight finish (up to `shutdown_timeout`) and closes the socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol, Self

from aiohttp import web

from bot.errors import ConfigError

DEFAULT_HOST = "0.0.0.0"  # every interface: Slack and Telegram reach it via a proxy
MAX_BODY_BYTES = 1024 * 1024  # Slack and Telegram payloads are far smaller
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class Health(Protocol):
    """What `/healthz` asks (`bot.monitor.Monitor`): healthy or not, and the report."""

    async def health(self) -> tuple[bool, dict[str, Any]]: ...


class Scrape(Health, Protocol):
    """What the metrics server asks: the health and the Prometheus text of the metrics."""

    async def exposition(self) -> bytes: ...


def build_http_app(routes: Iterable[web.AbstractRouteDef] = ()) -> web.Application:
    """An aiohttp application serving `routes` (route definitions such as `web.post(...)`)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.add_routes(list(routes))
    return app


def health_routes(monitor: Health) -> list[web.RouteDef]:
    """`GET /healthz` for `monitor`."""
    async def healthz(request: web.Request) -> web.Response:
        healthy, report = await monitor.health()
        return web.json_response(report, status=200 if healthy else 503,
                                 headers={"Cache-Control": "no-store"})

    return [web.get("/healthz", healthz, allow_head=True)]


def monitor_routes(monitor: Scrape) -> list[web.RouteDef]:
    """`GET /healthz` and `GET /metrics` for `monitor` (the metrics server's routes)."""
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=await monitor.exposition(),
                            headers={"Content-Type": PROMETHEUS_TEXT,
                                     "Cache-Control": "no-store"})

    return [*health_routes(monitor), web.get("/metrics", metrics, allow_head=True)]


class HttpServer:
    """Serves `app` on `host:port` (port 0 picks a free port); an async context manager."""

    def __init__(self, port: int, app: web.Application, *, host: str = DEFAULT_HOST,
                 shutdown_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self._app = app
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"HttpServer(host={self.host!r}, port={self.port})"

    @property
    def url(self) -> str:
        """`http://<host>:<port>` of the running server (loopback when bound to all)."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        """Start listening; a port already in use is a ConfigError naming it."""
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False,
                               shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"http: unable to listen on {self.host}:{self.port}: "
                              f"{exc.strerror or exc}") from exc
        self._runner = runner
        self.port = _bound_port(runner, default=self.port)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Stop accepting, finish requests in flight, close the socket."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def _bound_port(runner: web.AppRunner, *, default: int) -> int:
    """The port the runner actually listens on (differs from the request for port 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return default
