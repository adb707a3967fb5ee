"""``system.*`` service: no engine; for health checks, diagnostics and benchmarks."""
