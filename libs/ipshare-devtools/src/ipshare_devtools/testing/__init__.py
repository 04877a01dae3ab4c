"""Test fixtures for the real PostgreSQL and broker (a pytest plugin, loaded automatically)."""
