"""`python -m console.entrypoints.main`: the console process (uvicorn serving the pages)."""

from __future__ import annotations

import asyncio
import signal

import uvicorn

from console.settings import ConsoleSettings
from console.web import create_app
from ipshare.identity import check_issuer
from ipshare.observability import configure_logging
from ipshare.tracing import configure_tracing, shutdown_tracing

STARTUP_FAILURE = 3  # uvicorn's status when the server never started (the port taken, say)


async def serve(settings: ConsoleSettings) -> bool:
    """Serve until SIGTERM or SIGINT; whether the server started."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                       access_log=False, proxy_headers=False)
    )  # fmt: skip
    # uvicorn re-raises the signal it stopped on once it is done; absorbed here, so the process flushes
    # its spans and ends with status 0, as the services do, instead of dying of the signal (143).
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: None)
    await server.serve()
    return server.started


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level, settings.log_json)
    configure_tracing("console")
    check_issuer(settings)
    started = asyncio.run(serve(settings))
    shutdown_tracing()
    if not started:
        raise SystemExit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
