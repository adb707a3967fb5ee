"""The monitor: heartbeats, tiered timeouts, lock health and recovery."""
