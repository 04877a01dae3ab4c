"""Thin entrypoints: the HTTP API and the process's main."""
