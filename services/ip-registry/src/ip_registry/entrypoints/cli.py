"""`ipshare-ip-registry`: run the service, or apply its schema's migrations."""

from __future__ import annotations

from ip_registry.entrypoints.main import IpRegistrySettings, main
from ip_registry.migrations import schema
from ipshare.service_cli import service_cli

app = service_cli("ip-registry: the register of assets, members and researchers.", schema, IpRegistrySettings, main)

if __name__ == "__main__":
    app()
