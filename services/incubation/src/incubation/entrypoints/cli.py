"""`ipshare-incubation`: run the service, or apply its schema's migrations."""

from __future__ import annotations

from incubation.entrypoints.main import IncubationSettings, main
from incubation.migrations import schema
from ipshare.service_cli import service_cli

app = service_cli("incubation: seed projects, spin-offs and their cap tables.", schema, IncubationSettings, main)

if __name__ == "__main__":
    app()
