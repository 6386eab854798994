"""BillRun's signature: the reference vectors made by PHP, every way to fail, and PHP-signed random data."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hyp_settings, strategies as st

from shared.billrun_signature import DataError, SignatureError, decode_data, sign, signature, signed_string, verify
from tests.shared.test_php import JSON_VALUES, KEYS, NO_SHRINK
from tests.support.billrun_php import requires_php, run_php

VECTORS = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "billrun-sig-vectors.json").read_text())
SECRET = "0123456789abcdef0123456789abcdef"
OTHER_SECRET = "fedcba9876543210fedcba9876543210"
NOW = 1_700_000_000


def vectors() -> list[dict]:
    return VECTORS["vectors"]


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["name"])
def test_reference_vector_signed_string(vector: dict) -> None:
    assert signed_string(decode_data(vector["data"])) == vector["signed_string"]


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["name"])
def test_reference_vector_signature(vector: dict) -> None:
    assert signature(decode_data(vector["data"]), vector["secret"]) == vector["expected_sig"]


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: v["name"])
def test_reference_vector_verdict(vector: dict) -> None:
    data = decode_data(vector["data"])
    signed_at = int(data["_t_"])
    if vector["valid"]:
        assert verify(data, [vector["secret"]], now=signed_at, tolerance_s=300).signature == data["_sig_"]
    else:
        with pytest.raises(SignatureError):
            verify(data, [vector["secret"]], now=signed_at, tolerance_s=300)


def _signed(**fields) -> dict:
    return sign({"aid": 1, "_t_": str(NOW), "ok_page": "https://a.example/ok", **fields}, SECRET)


def test_verified_fields_leave_the_signature_out() -> None:
    verified = verify(_signed(), [SECRET], now=NOW, tolerance_s=300)
    assert dict(verified.fields) == {"aid": 1, "_t_": str(NOW), "ok_page": "https://a.example/ok"}
    assert verified.signed_at == NOW


def test_any_configured_secret_verifies() -> None:
    verify(_signed(), [OTHER_SECRET, SECRET], now=NOW, tolerance_s=300)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("_sig_"), "_sig_ is missing"),
        (lambda d: d.update(_sig_=""), "_sig_ is missing"),
        (lambda d: d.pop("_t_"), "_t_ is missing"),
        (lambda d: d.update(_sig_="abc"), "_sig_ must be 128 lowercase hex digits"),
        (lambda d: d.update(_sig_=d["_sig_"].upper()), "_sig_ must be 128 lowercase hex digits"),
        (lambda d: d.update(_sig_=7), "_sig_ must be 128 lowercase hex digits"),
        (lambda d: d.update(_t_="yesterday"), "_t_ must be Unix seconds"),
        (lambda d: d.update(_t_=True), "_t_ must be Unix seconds"),
        (lambda d: d.update(aid=2), "_sig_ does not match the data"),
        (lambda d: d.update(extra="x"), "_sig_ does not match the data"),
        (lambda d: d.update(ok_page=["x"]), "ok_page cannot be signed: it is not a scalar"),
    ],
)
def test_refused_with_the_reason(change, reason: str) -> None:
    data = _signed()
    change(data)
    with pytest.raises(SignatureError) as err:
        verify(data, [SECRET], now=NOW, tolerance_s=300)
    assert str(err.value) == reason


def test_other_secret_is_wrong() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(_signed(), [OTHER_SECRET], now=NOW, tolerance_s=300)


def test_no_secret_verifies_nothing() -> None:
    with pytest.raises(SignatureError, match="no shared secret"):
        verify(_signed(), [], now=NOW, tolerance_s=300)


def test_stale_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError) as err:
        verify(_signed(), [SECRET], now=NOW + 301, tolerance_s=300)
    assert str(err.value) == "_t_ is 301 s old (tolerance 300 s)"


def test_future_timestamp_is_refused() -> None:
    with pytest.raises(SignatureError) as err:
        verify(_signed(), [SECRET], now=NOW - 301, tolerance_s=300)
    assert str(err.value) == "_t_ is 301 s in the future (tolerance 300 s)"


def test_timestamp_at_the_tolerance_is_accepted() -> None:
    verify(_signed(), [SECRET], now=NOW + 300, tolerance_s=300)
    verify(_signed(_t_=NOW), [SECRET], now=NOW - 300, tolerance_s=300)


@pytest.mark.parametrize(("raw", "reason"), [("[1]", "data must be a JSON object"), ('"x"', "data must be a JSON object"),
                                             ("{x", "data is not valid JSON")])
def test_data_that_is_no_object_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(DataError, match=reason):
        decode_data(raw)


URL_FIELD_VALUES = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
    st.sampled_from(["https://shop.example.com/back?to=my ~page&x=1", "https://a.example/p?q=\u00e9&r=/s"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)
SIGNED_DATA = st.fixed_dictionaries(
    {"_t_": st.one_of(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=2**40).map(str))},
    optional={"name": URL_FIELD_VALUES, "ok_page": URL_FIELD_VALUES, "fail_page": URL_FIELD_VALUES,
              "return_url": URL_FIELD_VALUES, "amount": JSON_VALUES, "extra": JSON_VALUES},
).flatmap(lambda fixed: st.dictionaries(KEYS, JSON_VALUES, max_size=3).map(lambda more: {**more, **fixed}))


@requires_php
@hyp_settings(max_examples=12, deadline=None, phases=NO_SHRINK, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(SIGNED_DATA, min_size=40, max_size=40))
def test_php_signed_random_data_verifies(cases: list[dict]) -> None:
    texts = [json.dumps(case, ensure_ascii=False) for case in cases]
    answers = run_php([{"data": text, "secret": SECRET} for text in texts])
    for text, answer in zip(texts, answers):
        data = decode_data(text)
        assert signed_string(data) == answer["signed_string"], text
        data["_sig_"] = answer["sig"]
        verify(data, [OTHER_SECRET, SECRET], now=int(data["_t_"]), tolerance_s=0)
