"""incubation's schema: the directory of ids learned from the other services' topics, beside the
library's tables."""

from pathlib import Path

from incubation.adapters.directory import directory_metadata
from ipshare.schema import Schema

schema = Schema("incubation", Path(__file__).with_name("versions"), directory_metadata)
