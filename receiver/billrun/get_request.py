"""``GET`` or ``POST /paymentgateways/getRequest``: a signed BillRun request creates a Stripay checkout.

``data`` comes from the query string, or from a form-encoded POST body. Order of checks:
readable ``data`` (400), BillRun's signature and ``_t_`` (401), the fields and the redirect
pages (400), the signature not seen before (401); only then is a txId record written and
Stripay called. A refused request stores nothing and costs no Stripay call.
"""

from __future__ import annotations

import time

from aiohttp import web

from receiver.appkeys import REDIS, SETTINGS
from receiver.billrun.answers import answer
from receiver.billrun.orders import learn_order, stripay
from receiver.billrun.params import BadRequest, GetRequestParams, get_request_params, new_tx_id, read_data
from receiver.billrun.store import BillrunStore, TxRecord
from receiver.billrun.urls import check_pages, checkout_order, client_ip
from shared.billrun_signature import SignatureError, verify
from shared.logging import get_logger
from shared.stripay_client import ApiRejected, ApiUnavailable

log = get_logger("receiver.billrun")

CREATE_ATTEMPTS = 5
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def data_parameter(request: web.Request) -> str | None:
    """``data`` from a POSTed form, else from the query string."""
    if request.method == "POST" and request.content_type in FORM_TYPES:
        value = (await request.post()).get("data")
        if value is not None:
            if not isinstance(value, str):
                raise BadRequest("data must be a form field, not a file")
            return value
    return request.query.get("data")


async def _remember(store: BillrunStore, params: GetRequestParams) -> str:
    for _ in range(CREATE_ATTEMPTS):
        tx_id = new_tx_id()
        record = TxRecord(tx_id=tx_id, ok_page=params.ok_page, fail_page=params.fail_page, aid=params.aid,
                          amount=params.amount, currency=params.currency, created_at=time.time())
        if await store.create(record):
            return tx_id
    raise RuntimeError("no free transaction id")


async def get_request(request: web.Request) -> web.Response:
    config = request.config_dict
    settings = config[SETTINGS]
    tolerance_s = settings.billrun.signature_tolerance_s
    data = read_data(await data_parameter(request))
    now = time.time()
    try:
        signed = verify(data, settings.billrun.shared_secrets, now, tolerance_s)
    except SignatureError as err:
        log.info("billrun_get_request", outcome="unauthorized", reason=str(err))
        return answer(401, 0, str(err))
    params = get_request_params(signed.fields)
    check_pages(params, settings)
    store = BillrunStore(config[REDIS])
    if not await store.claim_signature(signed.signature, signed.signed_at + tolerance_s - now):
        log.info("billrun_get_request", outcome="unauthorized", reason="replayed")
        return answer(401, 0, "_sig_ was already used (a signed request is accepted once)")

    if settings.public_url is None:  # the sub-application answers 503 before this
        raise RuntimeError("STRIPAY_PUBLIC_URL is not set")
    tx_id = await _remember(store, params)
    checkout = checkout_order(params, tx_id, settings.public_url, client_ip(request))
    try:
        paid = await stripay(config).checkout_pay(checkout, settings.api_timeout_s)
    except (ApiUnavailable, ApiRejected) as err:
        log.warning("billrun_get_request", outcome="upstream_error", tx_id=tx_id, error=str(err))
        return answer(502, 0, f"Stripay could not create the order: {err}")
    if paid.status == "fail":
        reason = paid.status_note or "no reason given"
        log.warning("billrun_get_request", outcome="refused", tx_id=tx_id, reason=reason)
        return answer(502, 0, f"Stripay refused the payment: {reason}")
    order = await learn_order(config, store, tx_id)
    log.info("billrun_get_request", outcome="created", tx_id=tx_id, order_id=order.id if order else None,
             pay_status=paid.status)
    if not params.request_parameters:
        return answer(200, 1, "success", {"url": paid.redirect_url})
    return answer(200, 1, "success", {"url": {
        "url": paid.redirect_url,
        "txId": tx_id,
        "order_id": order.id if order else None,
        "order": dict(order.fields) if order else None,
    }})
