"""PHP's json_decode/json_encode/urlencode reproduced: fixed cases, then random values compared with real PHP."""

import json
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings as hyp_settings, strategies as st

from shared.php import PhpJsonError, json_decode, json_encode, urlencode
from tests.support.billrun_php import requires_php, run_php


@pytest.mark.parametrize(
    ("text", "php"),
    [
        ('{"a":"x/y"}', '{"a":"x\\/y"}'),
        ('{"a":"Zo\u00eb \U0001f600"}', '{"a":"Zo\\u00eb \\ud83d\\ude00"}'),
        ('{"a":"\\u001f\\b\\f\\n\\r\\t\\"\\\\"}', '{"a":"\\u001f\\b\\f\\n\\r\\t\\"\\\\"}'),
        ('{"a":25.0}', '{"a":25}'),
        ('{"a":1e21}', '{"a":1.0e+21}'),
        ('{"a":1.5e-7}', '{"a":1.5e-7}'),
        ('{"a":0.0001}', '{"a":0.0001}'),
        ('{"a":1e17}', '{"a":1.0e+17}'),
        ('{"a":1e16}', '{"a":10000000000000000}'),
        ('{"a":-0.0}', '{"a":-0}'),
        ('{"a":0.1}', '{"a":0.1}'),
        ('{"a":9223372036854775807}', '{"a":9223372036854775807}'),
        ('{"a":9223372036854775808}', '{"a":9.223372036854776e+18}'),
        ('{"a":-9223372036854775809}', '{"a":-9.223372036854776e+18}'),
        ('{"a":{}}', '{"a":[]}'),
        ('{}', '[]'),
        ('{"0":"x","1":"y"}', '["x","y"]'),
        ('{"1":"x","0":"y"}', '{"1":"x","0":"y"}'),
        ('{"00":"x"}', '{"00":"x"}'),
        ('{"b":1,"a":2,"b":3}', '{"b":3,"a":2}'),
    ],
)
def test_json_encode_of_decoded_text_is_phps(text: str, php: str) -> None:
    assert json_encode(json_decode(text)) == php


def test_integer_beyond_64_bits_is_decoded_as_a_float() -> None:
    assert json_decode("[9223372036854775808, 9223372036854775807]") == [9.223372036854776e18, 2**63 - 1]
    assert isinstance(json_decode("[18446744073709551616]")[0], float)


@pytest.mark.parametrize(
    "text",
    ['{"a":NaN}', '{"a":Infinity}', '{"a":1e400}', '{"a":"\\ud800"}', "{'a':1}", '{"a":1,}', "[1] x",
     "[" * 513 + "]" * 513],
)
def test_what_php_refuses_to_decode_is_refused(text: str) -> None:
    with pytest.raises(PhpJsonError):
        json_decode(text)


def test_nesting_of_512_is_decoded() -> None:
    assert json_encode(json_decode("[" * 512 + "]" * 512)) == "[" * 512 + "]" * 512


@pytest.mark.parametrize(
    ("value", "php"),
    [
        ("https://shop.example.com/back?to=my ~page&x=1", "https%3A%2F%2Fshop.example.com%2Fback%3Fto%3Dmy+%7Epage%26x%3D1"),
        ("AZaz09_.-", "AZaz09_.-"),
        ("\u00e9", "%C3%A9"),
        (True, "1"),
        (False, ""),
        (12, "12"),
        (0.1 + 0.2, "0.3"),
        (1e14, "1.0E%2B14"),
        (1.5e-7, "1.5E-7"),
    ],
)
def test_urlencode_is_phps(value: object, php: str) -> None:
    assert urlencode(value) == php


def test_inf_and_nan_cannot_be_encoded() -> None:
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(PhpJsonError):
            json_encode({"a": value})


# --- compared with real PHP ------------------------------------------------------------------
# Each example is a batch of cases for one php run; a failure names its case, so batches are not shrunk.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)

KEYS = st.one_of(st.sampled_from(["0", "1", "2", "a", "", "00", "-1", "10", "_t_", "k/"]), st.text(max_size=6))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([25.0, 1e21, 1e-5, 0.0001, 1e16, 1e17, -0.0, 19.99, 5e-324, 1.7976931348623157e308]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)


def _counting_keys(values: list) -> dict:
    return {str(index): value for index, value in enumerate(values)}


JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
        st.lists(inner, max_size=3).map(_counting_keys),
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, JSON_VALUES, max_size=6)


@requires_php
@hyp_settings(max_examples=15, deadline=None, phases=NO_SHRINK, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(OBJECTS, min_size=40, max_size=40), st.booleans())
def test_json_encode_equals_php_over_random_nested_json(objects: list[dict], ascii_only: bool) -> None:
    texts = [json.dumps(value, ensure_ascii=ascii_only) for value in objects]
    answers = run_php([{"data": text, "secret": "s"} for text in texts])
    for text, answer in zip(texts, answers):
        assert answer.get("encoded") == json_encode(json_decode(text)), text


@requires_php
@hyp_settings(max_examples=10, deadline=None, phases=NO_SHRINK)
@given(st.lists(st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",))), st.booleans(),
                          st.integers(min_value=-(2**63), max_value=2**63 - 1),
                          st.floats(allow_nan=False, allow_infinity=False)), min_size=50, max_size=50))
def test_urlencode_equals_php(values: list) -> None:
    answers = run_php([{"urlencode": value} for value in values])
    assert [answer.get("urlencoded") for answer in answers] == [urlencode(value) for value in values]
