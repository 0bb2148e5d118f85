"""segflow server: the gRPC service around the rules engine."""
