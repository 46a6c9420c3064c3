"""In-process gRPC server tests (build_server on port 0)."""
