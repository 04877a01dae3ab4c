"""The incubation process: HTTP routes, the gRPC server and `main`."""
