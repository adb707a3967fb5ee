"""Worker plumbing: the broker, the lifecycle middleware, what a task run sees, run tracking, the sidecar."""
