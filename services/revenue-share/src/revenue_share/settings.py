"""revenue-share's settings: the service's own, beside every service's (docs/settings.md)."""

from __future__ import annotations

from ipshare.settings import ServiceSettings


class RevenueShareSettings(ServiceSettings):
    http_port: int = 8004
    grpc_port: int = 8104
    # A close first waits until the inbox has applied what the source topics held when it was
    # requested; past this many seconds it is refused (409, with the lag). 0: close on what the
    # inbox has applied, at once (a stack without the source topics).
    close_wait_seconds: float = 20.0
