"""revenue-share's schema: the inbox of facts, beside the library's tables."""

from pathlib import Path

from ipshare.schema import Schema
from revenue_share.adapters.inbox import metadata

schema = Schema("revenue_share", Path(__file__).with_name("versions"), metadata)
