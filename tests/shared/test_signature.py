import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from shared.signature import SignatureError, sign, signing_string, verify
from tests.support.payloads import MERCHANT_KEY, load_vectors

GENSIGN_JS = Path(__file__).resolve().parents[1] / "support" / "gensign.js"


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: v["name"])
def test_reference_vector_sign(vector: dict) -> None:
    payload = json.loads(vector["body"])
    assert sign(payload, vector["key"]) == vector["expected_sign"]


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: v["name"])
def test_reference_vector_verdict(vector: dict) -> None:
    payload = json.loads(vector["body"])
    if vector["valid"]:
        verify(payload, [vector["key"]])
    else:
        with pytest.raises(SignatureError, match="does not match"):
            verify(payload, [vector["key"]])


def test_signing_string_skips_sign_null_and_empty() -> None:
    assert signing_string({"b": "", "a": None, "sign": "x", "c": 0, "d": False}) == "0false"


def test_any_configured_key_verifies() -> None:
    payload = {"id": 1, "status": "completed"}
    payload["sign"] = sign(payload, "new-key")
    verify(payload, ["old-key", "new-key"])


def test_missing_sign_is_rejected() -> None:
    with pytest.raises(SignatureError, match="missing sign"):
        verify({"id": 1}, [MERCHANT_KEY])


def test_non_hex_sign_is_rejected() -> None:
    with pytest.raises(SignatureError, match="32 hex"):
        verify({"id": 1, "sign": "z" * 32}, [MERCHANT_KEY])


def test_no_keys_fails_closed() -> None:
    payload = {"id": 1}
    payload["sign"] = sign(payload, MERCHANT_KEY)
    with pytest.raises(SignatureError, match="no merchant key"):
        verify(payload, [])


def test_error_message_never_contains_key_or_expected_sign() -> None:
    payload = {"id": 1, "sign": "0" * 32}
    with pytest.raises(SignatureError) as caught:
        verify(payload, [MERCHANT_KEY])
    assert MERCHANT_KEY not in str(caught.value)
    assert sign({"id": 1}, MERCHANT_KEY) not in str(caught.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@hyp_settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=6), min_size=20, max_size=20))
def test_sign_matches_stripay_genSign_run_by_node(payloads: list[dict]) -> None:
    bodies = [json.dumps(p) for p in payloads]
    lines = "\n".join(json.dumps([MERCHANT_KEY, body]) for body in bodies)
    out = subprocess.run(["node", str(GENSIGN_JS)], input=lines, capture_output=True, text=True, check=True)
    expected = out.stdout.split()
    assert [sign(json.loads(body), MERCHANT_KEY) for body in bodies] == expected
