"""Every URL the BillRun endpoints hand out: built from ``STRIPAY_PUBLIC_URL`` and the caller's
checked pages, never from ``Host``, ``X-Forwarded-*`` or anything else in the request."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from receiver.billrun.params import BadRequest, GetRequestParams
from receiver.notify import NOTIFY_PATH
from shared.settings import Settings
from shared.stripay_pay import CheckoutOrder
from shared.url_rules import redirect_problem, url_host

PREFIX = "/paymentgateways"
GET_REQUEST = "/getRequest"
OK_PAGE = "/okPage"
OK_PAGE_PATH = PREFIX + OK_PAGE
RESULT_PARAMS = ("txId", "status")  # what the redirect adds to ok_page / fail_page
PLACEHOLDER_EMAIL_DOMAIN = "billrun.invalid"
PLACEHOLDER_PHONE = "unknown"


def disabled_reason(settings: Settings) -> str | None:
    """Why the BillRun endpoints cannot be served with these settings, or None."""
    if settings.public_url is None:
        return "STRIPAY_PUBLIC_URL is not set"
    if not settings.billrun.shared_secrets:
        return "BILLRUN_SHARED_SECRETS is not set"
    return None


def redirect_hosts(settings: Settings) -> tuple[str, ...]:
    """``BILLRUN_REDIRECT_HOSTS``, else the host of ``STRIPAY_PUBLIC_URL``."""
    if settings.billrun.redirect_hosts:
        return settings.billrun.redirect_hosts
    return (url_host(settings.public_url),) if settings.public_url else ()


def check_pages(params: GetRequestParams, settings: Settings) -> None:
    """ok_page and fail_page are https (http on loopback) pages of an allowed host, free of txId/status."""
    hosts = redirect_hosts(settings)
    for name, url in (("ok_page", params.ok_page), ("fail_page", params.fail_page)):
        problem = redirect_problem(url, hosts, RESULT_PARAMS)
        if problem is not None:
            raise BadRequest(f"{name} {problem}")


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` appended to its query (the caller's own encoding kept, fragment last)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def client_ip(request: web.Request) -> str:
    """The peer's address (never a header: X-Forwarded-For is the caller's to invent)."""
    remote = request.remote or ""
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return "127.0.0.1"


def checkout_order(params: GetRequestParams, tx_id: str, base_url: str, ip: str) -> CheckoutOrder:
    """Stripay's pay request: success and notify URLs on ``base_url`` (``STRIPAY_PUBLIC_URL``)."""
    reference = params.aid or "billrun"
    return CheckoutOrder(
        merchant_order_id=tx_id,
        amount=params.amount,
        currency=params.currency,
        success_url=with_query(base_url + OK_PAGE_PATH, txId=tx_id),
        fail_url=with_query(params.fail_page, txId=tx_id),
        notify_url=base_url + NOTIFY_PATH,
        ip=params.ip or ip,
        email=params.email or f"tx{tx_id}@{PLACEHOLDER_EMAIL_DOMAIN}",
        phone=params.phone or PLACEHOLDER_PHONE,
        goods=[{"sku": reference, "title": f"BillRun account {reference}", "quantity": "1",
                "amount": str(params.amount)}],
    )
