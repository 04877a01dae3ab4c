"""commercialization's schema: the ownership projection's tables, beside the library's."""

from pathlib import Path

from commercialization.adapters.ownership import ownership_metadata
from ipshare.schema import Schema

schema = Schema("commercialization", Path(__file__).with_name("versions"), ownership_metadata)
