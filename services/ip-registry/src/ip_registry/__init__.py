"""ipshare ip-registry service."""
