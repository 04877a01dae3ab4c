"""`python -m console.entrypoints.main`: the console process (uvicorn serving the pages)."""

from __future__ import annotations

import uvicorn

from console.settings import ConsoleSettings
from console.web import create_app
from ipshare.identity import check_issuer
from ipshare.observability import configure_logging
from ipshare.tracing import configure_tracing, shutdown_tracing


def main() -> None:
    settings = ConsoleSettings()
    configure_logging("console", settings.log_level, settings.log_json)
    configure_tracing("console")
    check_issuer(settings)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None,
                access_log=False, proxy_headers=False)  # fmt: skip
    shutdown_tracing()


if __name__ == "__main__":
    main()
