"""ipshare commercialization service."""
