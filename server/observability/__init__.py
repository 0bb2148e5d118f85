"""What operators see of each call: the access log line and the trace it belongs to."""
