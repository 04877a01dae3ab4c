"""ipshare revenue-share service."""
