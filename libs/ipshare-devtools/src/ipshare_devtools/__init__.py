"""Developer tools, never installed in a service image: the embedded PostgreSQL and broker, the local stack,
the demo, the `ipshare` command and the pytest fixtures."""
