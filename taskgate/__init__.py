"""The whole system from one command: ``python -m taskgate run`` (what ``make run`` calls)."""
