"""The simulator's one error shape, for the /v1 API and the /_sim control API alike.

Every error answer is JSON::

    {"error": {"code": "bad_request", "message": "amount must be a number", "field": "amount"}}

``code`` is ``bad_request`` (400), ``unauthorized`` (401), ``not_found`` (404),
``method_not_allowed`` (405), ``conflict`` (409), ``fault_injected`` (an
injected fault) or ``internal_error`` (500); ``field`` names the offending
request field, or is ``null``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.logging import get_logger
from simulator.validation import ValidationError

log = get_logger("simulator")

_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 409: "conflict"}


def error_response(http_status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "field": field}}, status=http_status)


class ApiError(Exception):
    """Raised by a handler to answer with the error shape."""

    def __init__(self, http_status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.field = field
        self.code = _CODES.get(http_status, "error")

    def response(self) -> web.Response:
        return error_response(self.http_status, self.code, self.message, self.field)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every error (ours, aiohttp's 404/405, a bug) into the JSON error shape."""
    try:
        return await handler(request)
    except ApiError as err:
        return err.response()
    except ValidationError as err:
        return error_response(400, "bad_request", err.message, err.field)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        return error_response(err.status, _CODES.get(err.status, "error"), err.reason)
    except Exception as err:  # noqa: BLE001 - the last line of defence
        log.exception("unhandled_error", path=request.path, error=type(err).__name__)
        return error_response(500, "internal_error", "internal error")
