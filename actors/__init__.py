"""Dramatiq actors: one module per service, all registered in ``actors.registry``."""
