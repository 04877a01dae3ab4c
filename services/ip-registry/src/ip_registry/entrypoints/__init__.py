"""Thin entrypoints: the HTTP API, the gRPC servicer and the process's main."""
