"""docs/billrun.md's worked example of a BillRun client's signature: its numbers are right."""

import re
from pathlib import Path

from shared.billrun_signature import decode_data, signature, signed_string, verify

DOC = (Path(__file__).resolve().parents[2] / "docs" / "billrun.md").read_text()


def worked_example() -> tuple[str, str, str, str]:
    section = DOC.split("### Worked example", 1)[1].split("\n## ", 1)[0]
    secret = re.search(r"Secret: `([^`]+)`", section).group(1)
    data, signed, sig = re.findall(r"```(?:json|text)\n(.*?)\n```", section, flags=re.DOTALL)
    return secret, data, signed, sig


def test_the_signed_string_is_what_php_signs() -> None:
    _secret, data, signed, _sig = worked_example()
    assert signed_string(decode_data(data)) == signed


def test_the_signature_is_the_hmac_of_the_signed_string() -> None:
    secret, data, _signed, sig = worked_example()
    assert signature(decode_data(data), secret) == sig
    assert decode_data(data)["_sig_"] == sig


def test_the_example_verifies_at_its_own_time() -> None:
    secret, data, _signed, sig = worked_example()
    assert verify(decode_data(data), [secret], now=1_700_000_000, tolerance_s=300).signature == sig
