import pytest

from shared.jsvalue import js_number_to_string, js_string, js_utf8, utf16_sort_key


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (10.0, "10"),
        (1.5, "1.5"),
        (0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (123.456, "123.456"),
        (12345678901234567890, "12345678901234567000"),
        (9007199254740993, "9007199254740992"),
        (10**400, "Infinity"),
        (-(10**400), "-Infinity"),
        (float("inf"), "Infinity"),
        (5e-324, "5e-324"),
        (1.23e25, "1.23e+25"),
        (-2.5, "-2.5"),
        # Either side of the fast paths' bounds (checked against node).
        (0.0001, "0.0001"),
        (0.00009999999999999999, "0.00009999999999999999"),
        (9999999999999998.0, "9999999999999998"),
        (1e16, "10000000000000000"),
        (9007199254740991, "9007199254740991"),
        (9007199254740993, "9007199254740992"),
        (1e15 + 0.5, "1000000000000000.5"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_numbers_convert_like_javascript(number: float, expected: str) -> None:
    assert js_number_to_string(number) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "true"),
        (False, "false"),
        ({"a": 1}, "[object Object]"),
        ([1, None, [2, [3]], True, ""], "1,,2,3,true,"),
        ([{}], "[object Object]"),
        ([], ""),
        ("text", "text"),
    ],
)
def test_values_convert_like_javascript(value: object, expected: str) -> None:
    assert js_string(value) == expected


def test_keys_sort_by_utf16_code_units_not_code_points() -> None:
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFF in JS.
    assert sorted(["\uffff", "\U0001f600"], key=utf16_sort_key) == ["\U0001f600", "\uffff"]


def test_lone_surrogates_encode_as_replacement_character() -> None:
    assert js_utf8("a\ud800b") == "a\ufffdb".encode()


def test_arrays_nested_deeper_than_the_limit_are_refused_not_a_recursion_error() -> None:
    from shared.jsvalue import MAX_ARRAY_DEPTH, UnconvertibleValue

    value: list = [1]
    for _ in range(MAX_ARRAY_DEPTH - 1):
        value = [value]
    assert js_string(value) == "1"
    with pytest.raises(UnconvertibleValue):
        js_string([value])
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(UnconvertibleValue):
        js_string(deep)
