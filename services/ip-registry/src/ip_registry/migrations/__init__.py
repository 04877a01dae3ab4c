"""ip-registry's schema: the library's tables only so far; its own history (branch `ip_registry`)
starts in `versions/` with its first table of its own."""

from pathlib import Path

from ipshare.schema import Schema

schema = Schema("ip_registry", Path(__file__).with_name("versions"))
