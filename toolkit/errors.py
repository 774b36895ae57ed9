"""The one error type domain code raises; the web layers turn it into the error shape."""


class DomainError(Exception):
    """A rule of the store was broken by the caller's input; never a server fault.

    Subclasses set a stable machine-readable `code` (users' scripts match on it) and the
    HTTP status the API answers with.
    """

    code = "invalid_request"
    status = 400

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"
    status = 404
