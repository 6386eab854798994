"""Reading request bodies as JSON objects."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from simulator.errors import ApiError


async def read_json_object(request: web.Request, empty_means_empty_object: bool = False) -> dict[str, Any]:
    """The body as a JSON object (whatever the Content-Type), or a 400 :class:`ApiError`.

    The control API treats an empty body as ``{}``; the /v1 API does not.
    """
    raw = await request.read()
    if not raw.strip() and empty_means_empty_object:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ApiError(400, "body must be a JSON object")
    return body
