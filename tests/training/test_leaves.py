from training.leaves import Leaf, canonical, flatten, iter_leaves, json_equal, render_scalar


def test_leaves_have_pointers_and_patterns() -> None:
    value = {"a/b": 1, "t~": [{"x": None}, {"x": "y"}], "e": {}, "l": [], "0": True}
    assert list(iter_leaves(value)) == [
        Leaf("/a~1b", "/a~1b", 1),
        Leaf("/t~0/0/x", "/t~0/*/x", None),
        Leaf("/t~0/1/x", "/t~0/*/x", "y"),
        Leaf("/e", "/e", {}),
        Leaf("/l", "/l", []),
        Leaf("/0", "/0", True),  # an object key "0" is not an array index
    ]
    assert flatten("scalar") == {"": "scalar"}
    assert flatten([]) == {"": []}


def test_json_equality() -> None:
    assert json_equal({"a": 1, "b": [1.0]}, {"b": [1], "a": 1.0})
    assert not json_equal(True, 1)
    assert not json_equal(None, 0)
    assert not json_equal("1", 1)
    assert canonical({"b": 2, "a": "é"}) == '{"a":"é","b":2}'


def test_render_scalar() -> None:
    assert [render_scalar(v) for v in ("x", 3, 3.0, 2.5, True, None, [1])] == [
        "x",
        "3",
        "3",
        "2.5",
        None,
        None,
        None,
    ]
