"""Dramatiq actors: worker plumbing (``actors.worker``), one package per service, and the task registry."""
