"""The development issuer served over real HTTP in a thread, for tests of reading its tokens."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import Request, Response

from ipshare.dev_issuer import DevIssuer, issuer_app
from ipshare_devtools.embedded import free_port


@dataclass
class ServedIssuer:
    issuer: DevIssuer
    requests: Counter[str] = field(default_factory=Counter)  # path -> how many times it was asked for

    @property
    def url(self) -> str:
        return self.issuer.url


@contextmanager
def served_issuer(folder: Path, redirect_uris: Iterable[str] = ()) -> Iterator[ServedIssuer]:
    """The issuer on a free port; `redirect_uris`: its clients' registered addresses."""
    port = free_port()
    served = ServedIssuer(DevIssuer.open(folder, f"http://127.0.0.1:{port}", redirect_uris=redirect_uris))
    app = issuer_app(served.issuer)

    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        served.requests[request.url.path] += 1
        return await call_next(request)

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the development issuer did not start")
        time.sleep(0.02)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(10)
