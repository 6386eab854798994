"""The one acceptance rule: "this body is a notification signed by a configured merchant".

:func:`accept_notification` takes the raw body and its content type and gives a
:class:`Notification` or raises :class:`NotificationRejected`, in the manner of
stripe-python's ``Webhook.construct_event``: pure (no I/O, no clock), fail-closed.
The receiver's handler only maps its answer to HTTP; the CLI's ``replay-rejected``
and ``sign`` ask the same question the same way.

A rejection has a ``kind``: ``malformed`` (the body is not a notification at
all; the receiver answers 400) or ``bad_signature`` (a notification no configured
key signed; 403, and it is quarantined), and a ``reason`` fit for a log line
(never a key or an expected signature).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from shared.json_shape import nests_deeper_than
from shared.jsvalue import UnconvertibleValue
from shared.notification import MalformedNotification, order_id_of
from shared.signature import SignatureError, verify

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# A notification is one flat object (level 1); anything nested deeper than this
# is refused before it is parsed (json.loads and the signature's value
# conversion both recurse once per level).
MAX_DEPTH = 32

MALFORMED = "malformed"
BAD_SIGNATURE = "bad_signature"
RejectionKind = Literal["malformed", "bad_signature"]

# The merchant keys to verify with, for a notification's merchantId (any JSON value, or None).
KeysFor = Callable[[Any], Sequence[str]]


@dataclass(frozen=True)
class Notification:
    payload: dict[str, Any]  # as Stripay signed it (JSON.parse's view, or the form's strings)
    order_id: int


class NotificationRejected(Exception):
    """Not accepted; ``kind`` says which way (``malformed`` or ``bad_signature``), ``reason`` why.

    A ``bad_signature`` rejection keeps the notification it read as ``unverified``
    (for a log line only: nothing in it is to be trusted); a ``malformed`` one has None.
    """

    def __init__(self, kind: RejectionKind, reason: str, unverified: Notification | None = None) -> None:
        super().__init__(reason)
        self.kind: RejectionKind = kind
        self.reason = reason
        self.unverified = unverified


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON.parse (and so Stripay) does not.
    raise MalformedNotification(f"invalid JSON constant {name}")


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The payload as ``JSON.parse`` (or a form decoder, values as strings) gives it;
    :class:`~shared.notification.MalformedNotification` says why it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNotification("body is not UTF-8") from None
    if content_type == FORM_CONTENT_TYPE:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
        except (ValueError, UnicodeDecodeError):
            raise MalformedNotification("form body cannot be read") from None
        payload: dict[str, Any] = dict(pairs)
    else:
        if nests_deeper_than(text, MAX_DEPTH):
            raise MalformedNotification(f"body nests deeper than {MAX_DEPTH} levels")
        try:
            payload = json.loads(text, parse_constant=_reject_constant)
        except MalformedNotification:
            raise
        except (ValueError, RecursionError):
            raise MalformedNotification("body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise MalformedNotification("body is not a JSON object")
    return payload


def _require_sign(payload: dict[str, Any]) -> None:
    if "sign" not in payload or payload["sign"] in (None, ""):
        raise MalformedNotification("missing sign")
    if not isinstance(payload["sign"], str):
        raise MalformedNotification("sign must be a string")


def accept_notification(raw: bytes, content_type: str, keys_for: KeysFor) -> Notification:
    """The notification in ``raw`` if one of ``keys_for(merchantId)`` signed it.

    Raises :class:`NotificationRejected`: ``malformed`` when the body is not a
    notification (unreadable, not an object, no usable ``id`` or ``sign``),
    ``bad_signature`` when no key verifies its ``sign``.
    """
    try:  # every check of the body's shape raises MalformedNotification here (answered 400)
        payload = parse_body(raw, content_type)
        order_id = order_id_of(payload)
        _require_sign(payload)
    except MalformedNotification as err:
        raise NotificationRejected(MALFORMED, str(err)) from None
    try:
        verify(payload, keys_for(payload.get("merchantId")))
    except UnconvertibleValue as err:
        raise NotificationRejected(MALFORMED, str(err)) from None
    except SignatureError as err:
        raise NotificationRejected(BAD_SIGNATURE, str(err), Notification(payload, order_id)) from None
    return Notification(payload=payload, order_id=order_id)
