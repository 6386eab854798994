import pytest

from shared.json_shape import nests_deeper_than


@pytest.mark.parametrize(("text", "depth"), [
    ('{"id": 1}', 1),
    ('{"a": [1, {"b": []}]}', 4),
    ("[" * 900 + "]" * 900, 900),
    ('{"x": ' + "[" * 40 + "]" * 40 + "}", 41),
    ('{"a": ' * 50 + "1" + "}" * 50, 50),
    ("[" * 100_000, 100_000),  # unbalanced: as deep as it opens
])
def test_depth_is_read_exactly_at_the_limit(text: str, depth: int) -> None:
    assert nests_deeper_than(text, depth - 1)
    assert not nests_deeper_than(text, depth)


def test_brackets_inside_strings_do_not_count() -> None:
    text = '{"note": "' + "[{" * 1000 + '", "esc": "\\"[[[[", "id": 1}'
    assert not nests_deeper_than(text, 1)


def test_closing_brackets_alone_are_no_depth() -> None:
    assert not nests_deeper_than("]]]]]]", 1)
