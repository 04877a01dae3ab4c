"""`ipshare-commercialization`: run the service, or apply its schema's migrations."""

from __future__ import annotations

from commercialization.entrypoints.main import CommercializationSettings, main
from commercialization.migrations import schema
from ipshare.service_cli import service_cli

app = service_cli(
    "commercialization: licenses, assignments and royalty accounts.", schema, CommercializationSettings, main
)

if __name__ == "__main__":
    app()
