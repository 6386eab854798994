"""BillRun's answer shape and the one error path of the BillRun sub-application.

Every answer is ``{"status": 1, "desc": "success", "details": {...}}`` or
``{"status": 0, "desc": <reason>}`` (a redirect for a browser on okPage), with
``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from receiver.billrun.params import BadRequest
from shared.logging import get_logger

log = get_logger("receiver.billrun")

PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(http_status: int, status: int, desc: str, details: Any = None) -> web.Response:
    body: dict[str, Any] = {"status": status, "desc": desc}
    if details is not None:
        body["details"] = details
    return web.json_response(body, status=http_status)


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def errors_middleware(disabled_reason: str | None) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """The sub-application's one error path: a refusal in BillRun's shape, never a 500 or a traceback
    in an answer; anything unexpected (Redis down included) is logged with its traceback and
    answers 503. Without the settings they need, every endpoint answers 503 saying which."""

    @web.middleware
    async def billrun_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if disabled_reason is not None:
                response: web.StreamResponse = answer(503, 0, f"BillRun endpoints are off: {disabled_reason}")
            else:
                response = await handler(request)
        except BadRequest as err:
            log.info("billrun_refused", path=request.path, http_status=400, reason=str(err))
            response = answer(400, 0, str(err))
        except web.HTTPException as exc:  # unknown path, method not allowed, body too large
            response = answer(exc.status, 0, exc.reason)
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception as err:  # noqa: BLE001 - the last line of defence
            log.exception("billrun_unavailable", path=request.path, error=type(err).__name__)
            response = answer(503, 0, "temporarily unavailable")
        response.headers.update(PRIVATE_HEADERS)
        return response

    return billrun_errors
