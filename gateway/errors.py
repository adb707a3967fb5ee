"""The gateway's own errors (everything else it maps comes from the packages it calls)."""


class GatewayError(Exception):
    """Base of errors raised by the gateway itself."""


class BadRequest(GatewayError):
    """Raised when the request body is not valid JSON or not the expected shape."""


class BadQuery(GatewayError):
    """Raised when a query-string parameter is not valid."""


class BodyTimeout(GatewayError):
    """Raised when a client does not send the request body within ``http.body_timeout_s``."""


class NoCallback(GatewayError):
    """Raised when a redelivery is asked for a task that has no callback URL."""


class UnknownTask(GatewayError):
    """Raised when ``task_name`` is not in the registry."""


class LeaseNotFound(GatewayError):
    """Raised when no lease on a device carries the fencing token a force release names."""


class SubmitUnconfirmed(GatewayError):
    """Raised when Redis failed while a submit ran: the task may exist; ``task_id`` names it for a retry."""

    def __init__(self, detail: str, task_id: str) -> None:
        super().__init__(detail)
        self.task_id = task_id


class UnknownKey(GatewayError):
    """Raised when a route names an API key that the settings do not configure."""


class Forbidden(GatewayError):
    """Raised when the caller's key may not do what the request asks (a ``tenant`` set by a user key)."""


class UnknownQueue(GatewayError):
    """Raised when a path names a queue no registered task uses."""


class UnknownHost(GatewayError):
    """Raised when a path names a worker host that has never been seen."""
