"""``stripay-hooks sign``: Stripay's signature of a JSON payload, to debug an integration.

Without a ``sign`` in the payload it prints the signature. With one it says
whether it verifies against the key(s) and, when it does not, which string was
hashed (the merchant key is shown as ``<key>``, never printed).
"""

from __future__ import annotations

import json
from typing import IO, Any

import click

from cli.output import fail, load_settings, print_json
from shared.acceptance import MALFORMED, NotificationRejected, accept_notification, parse_body
from shared.notification import MalformedNotification
from shared.signature import sign, signing_string

JSON_CONTENT_TYPE = "application/json"


def _keys(key: str | None, payload: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    if key:
        return (key,), "--key"
    keys = load_settings().keys_for(payload.get("merchantId"))
    if not keys:
        fail("no merchant key configured for this merchant; pass --key", code=2)
    return keys, "configured"


def _hashed(payload: dict[str, Any]) -> str:
    return f"{json.dumps(signing_string(payload), ensure_ascii=False)} + <key>"


@click.command("sign")
@click.argument("source", type=click.File("rb"), default="-", metavar="[FILE|-]")
@click.option("--key", "key", metavar="KEY", help="Merchant key (default: the configured key(s) of the merchant).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sign_command(source: IO[bytes], key: str | None, as_json: bool) -> None:
    """Compute the signature of a JSON payload, or check the one it carries (exit 1 if it does not verify)."""
    raw = source.read()
    try:
        payload = parse_body(raw, JSON_CONTENT_TYPE)
    except MalformedNotification as err:
        fail(f"cannot read the payload: {err}")
    keys, origin = _keys(key, payload)
    claimed = payload.get("sign")

    if claimed is None or claimed == "":
        signature = sign(payload, keys[0])
        if as_json:
            print_json({"sign": signature, "hashed": _hashed(payload), "key": origin if origin == "--key" else
                        f"first of {len(keys)} configured"})
        else:
            click.echo(signature)
        return

    try:
        accept_notification(raw, JSON_CONTENT_TYPE, lambda _merchant_id: keys)
    except NotificationRejected as err:
        if err.kind == MALFORMED:
            fail(f"not a notification the receiver accepts: {err.reason}")
        expected = [sign(payload, k) for k in keys]
        if as_json:
            print_json({"verifies": False, "reason": str(err), "received": claimed, "expected": expected,
                        "hashed": _hashed(payload)})
        else:
            click.echo(f"signature does not verify: {err}")
            click.echo(f"  received  {claimed}")
            for index, value in enumerate(expected, start=1):
                label = "expected" if len(expected) == 1 else f"key {index}"
                click.echo(f"  {label:<9} {value}")
            click.echo(f"  hashed    md5({_hashed(payload)})")
        raise SystemExit(1)
    if as_json:
        print_json({"verifies": True, "received": claimed, "keys_tried": len(keys)})
    else:
        click.echo(f"signature verifies ({origin} key{'s' if len(keys) > 1 else ''})")
