"""ipshare incubation service."""
