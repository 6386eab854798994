"""The one acceptance rule, as a pure function: bytes and content type in,
a notification or a typed rejection out."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from shared.acceptance import (
    BAD_SIGNATURE,
    FORM_CONTENT_TYPE,
    MALFORMED,
    NotificationRejected,
    accept_notification,
)
from tests.support.payloads import MERCHANT_KEY, order_payload, signed

JSON = "application/json"


def keys(_merchant_id: object) -> tuple[str, ...]:
    return (MERCHANT_KEY,)


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def rejection(raw: bytes, content_type: str = JSON, keys_for=keys) -> NotificationRejected:
    with pytest.raises(NotificationRejected) as caught:
        accept_notification(raw, content_type, keys_for)
    return caught.value


def test_signed_json_notification_is_accepted_as_signed() -> None:
    payload = order_payload(order_id=7)
    notification = accept_notification(body(payload), JSON, keys)
    assert (notification.payload, notification.order_id) == (payload, 7)


def test_signed_form_notification_is_accepted_with_string_values() -> None:
    payload = signed({"id": "12", "status": "completed", "amount": "1.5", "merchantId": "1"})
    notification = accept_notification(urlencode(payload).encode(), FORM_CONTENT_TYPE, keys)
    assert (notification.payload, notification.order_id) == (payload, 12)


def test_keys_are_looked_up_by_the_notifications_merchant() -> None:
    asked: list[object] = []

    def keys_for(merchant_id: object) -> tuple[str, ...]:
        asked.append(merchant_id)
        return ("an-old-key", MERCHANT_KEY)

    accept_notification(body(order_payload(merchantId=42)), JSON, keys_for)
    assert asked == [42]


@pytest.mark.parametrize(("raw", "reason"), [
    (b"\xff\xfe", "body is not UTF-8"),
    (b"{not json", "body is not valid JSON"),
    (b'{"id": NaN}', "invalid JSON constant NaN"),
    (b"[1, 2]", "body is not a JSON object"),
    (body({"status": "completed", "sign": "0" * 32}), "missing id"),
    (body({"id": "x1", "sign": "0" * 32}), "id must be an integer or a numeric string"),
    (body({"id": 1, "status": "completed"}), "missing sign"),
    (body({"id": 1, "sign": ""}), "missing sign"),
    (body({"id": 1, "sign": 5}), "sign must be a string"),
])
def test_what_is_not_a_notification_is_malformed_with_the_reason(raw: bytes, reason: str) -> None:
    err = rejection(raw)
    assert (err.kind, err.reason, str(err), err.unverified) == (MALFORMED, reason, reason, None)


def test_unreadable_form_is_malformed() -> None:
    assert (rejection(b"a=1&&&=", FORM_CONTENT_TYPE).kind, rejection(b"%zz=\xff", FORM_CONTENT_TYPE).kind) == (
        MALFORMED, MALFORMED)


@pytest.mark.parametrize(("payload", "keys_for", "reason"), [
    (order_payload(status="refunded") | {"status": "completed"}, keys, "signature does not match"),
    (signed({"id": 3, "status": "completed"}, key="another-merchant"), keys, "signature does not match"),
    ({"id": 3, "status": "completed", "sign": "not-hex"}, keys, "sign is not 32 hex characters"),
    (order_payload(), lambda _merchant_id: (), "no merchant key configured for this merchant"),
])
def test_notification_no_key_signed_is_a_bad_signature(payload, keys_for, reason: str) -> None:
    err = rejection(body(payload), keys_for=keys_for)
    assert (err.kind, err.reason) == (BAD_SIGNATURE, reason)
    assert err.unverified is not None
    assert (err.unverified.payload, err.unverified.order_id) == (payload, payload["id"])


def test_rejection_never_carries_the_key_or_the_expected_signature() -> None:
    payload = order_payload() | {"status": "refunded"}
    err = rejection(body(payload))
    expected = signed(payload)["sign"]
    assert MERCHANT_KEY not in repr(err.args) and expected not in repr(err.args)


@given(raw=st.binary(max_size=64), content_type=st.sampled_from([JSON, FORM_CONTENT_TYPE, "text/plain", ""]))
@hyp_settings(max_examples=200, deadline=None)
def test_any_bytes_are_accepted_or_rejected_never_an_other_error(raw: bytes, content_type: str) -> None:
    try:
        accept_notification(raw, content_type, keys)
    except NotificationRejected as err:
        assert err.kind in (MALFORMED, BAD_SIGNATURE) and err.reason
