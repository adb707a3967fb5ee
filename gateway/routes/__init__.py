"""The gateway's HTTP routes, one module per resource; each exposes ``routes`` (``gateway.app`` adds them all).

What the routes share (request context, problems, bodies, auth) stays in ``gateway``; a module here holds
handlers and the start-up/clean-up hooks of what only they use.
"""
