"""keras.tree compared with real Keras on nested lists, tuples, dicts, OrderedDicts,
defaultdicts, deques, namedtuples and None.

Keras 3 runs keras.tree on optree with its TensorFlow/JAX/NumPy backends and on torch's
pytree with its PyTorch backend (the one installed here); the two agree except for a few
corner cases (nested dict ordering, namedtuple paths). The reference used throughout is
Keras's own tree API on its optree implementation, which follows Keras's documented
rules; where both implementations agree, the PyTorch-backend `keras.tree` is checked too.
"""

import collections
import inspect
import os
import warnings

import numpy as np
import pytest

from fastkeras import tree

Point = collections.namedtuple("Point", ["y", "x"])
OtherPoint = collections.namedtuple("Point", ["y", "x"])
OD = collections.OrderedDict


@pytest.fixture(scope="module")
def keras3():
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def ref(keras3):
    """Keras's tree API on its optree implementation."""
    pytest.importorskip("optree")
    from keras.src.tree import optree_impl, tree_api

    class Reference:
        def __getattr__(self, name):
            function = getattr(tree_api, name)

            def call(*args, **kwargs):
                saved = tree_api.tree_impl
                tree_api.tree_impl = optree_impl
                try:
                    return function(*args, **kwargs)
                finally:
                    tree_api.tree_impl = saved
            return call

    return Reference()


def _structures():
    array = np.arange(3)
    return [
        None, 1, "text", b"bytes", array, [], (), {}, [None], (None,), [[]], {"a": None},
        [1, 2, 3], (1, [2, None]), [[1, 2, 3], [4, [5], [[6]]]],
        {"b": 1, "a": 2, "c": [3, 4]},
        {"b": [1, 2], "a": {"y": 3, "x": None}},
        {100: "world!", 6: "Hello"},
        OD([("b", 1), ("a", 2), ("c", {"z": 3, "y": 4})]),
        collections.defaultdict(list, {"z": 1, "y": [2, 3]}),
        collections.deque([1, [2, 3]]),
        Point(1, [2, 3]), Point(y={"q": 1, "p": 2}, x=(3, None)),
        [(1,), {}, Point((), [])],
        {"outer": [Point(1, 2), OD([("k", (None, array))])], "alpha": ((("deep",),),)},
        [{"b": (1, 2), "a": [3]}, ({"d": None, "c": 4},)],
    ]


def _same(a, b):
    """Equal values, the same container types, and dicts in the same key order."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), (a, b)
        for key in a:
            _same(a[key], b[key])
        if isinstance(a, collections.defaultdict):
            assert a.default_factory is b.default_factory
    elif isinstance(a, (list, tuple, collections.deque)):
        assert len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b, (a, b)


def _outcome(function, *args, **kwargs):
    try:
        return "ok", function(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        return type(exc), None


def _same_outcome(ours, theirs):
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        _same(ours[1], theirs[1])


def test_the_module_surface_matches_keras(keras3):
    public = sorted(n for n in dir(keras3.tree) if not n.startswith("_"))
    assert sorted(n for n in dir(tree) if not n.startswith("_")) == public
    for name in public:
        if name == "MAP_TO_NONE":
            continue
        assert inspect.signature(getattr(tree, name)) == \
            inspect.signature(getattr(keras3.tree, name)), name
    import fastkeras
    assert fastkeras.tree is tree


def test_is_nested_flatten_and_paths_match_keras(ref):
    class ListSubclass(list):
        pass

    extra = [{1, 2}, range(3), ListSubclass([1]), os.stat("."), np.float32(2.0)]
    for s in _structures() + extra:
        assert tree.is_nested(s) == ref.is_nested(s), s
        _same(tree.flatten(s), ref.flatten(s))
        _same(tree.flatten_with_path(s), ref.flatten_with_path(s))


def test_flatten_matches_the_pytorch_backend_keras_tree(keras3):
    # structures on which Keras's two tree implementations agree (no dict inside a dict)
    agreed = [None, 1, "text", [], (), {}, [None], [[]], [1, 2, 3], (1, [2, None]),
              [[1, 2, 3], [4, [5], [[6]]]], {"b": 1, "a": 2, "c": [3, 4]},
              {100: "world!", 6: "Hello"}, OD([("b", 1), ("a", 2)]),
              collections.deque([1, [2, 3]]), [{"b": (1, 2), "a": [3]}, ({"d": None, "c": 4},)]]
    for s in agreed:
        _same(tree.flatten(s), keras3.tree.flatten(s))
        _same(tree.flatten_with_path(s), keras3.tree.flatten_with_path(s))
        _same(tree.map_structure(repr, s), keras3.tree.map_structure(repr, s))
        assert tree.is_nested(s) == keras3.tree.is_nested(s)
    assert tree.flatten({"b": 1, "a": 2}) == [2, 1]
    assert tree.flatten_with_path([{"foo": 42}]) == [((0, "foo"), 42)]


def test_pack_sequence_as_matches_keras(ref):
    for s in _structures():
        n = len(tree.flatten(s))
        flat = [f"leaf{i}" for i in range(n)]
        _same(tree.pack_sequence_as(s, flat), ref.pack_sequence_as(s, flat))
        _same(tree.pack_sequence_as(s, tree.flatten(s)), s)
        _same(tree.pack_sequence_as(s, tuple(flat)), ref.pack_sequence_as(s, tuple(flat)))
        _same_outcome(_outcome(tree.pack_sequence_as, s, flat + ["extra"]),
                      _outcome(ref.pack_sequence_as, s, flat + ["extra"]))
        if n:
            _same_outcome(_outcome(tree.pack_sequence_as, s, flat[:-1]),
                          _outcome(ref.pack_sequence_as, s, flat[:-1]))
    # Keras's documented examples
    assert tree.pack_sequence_as({"key3": "", "key1": "", "key2": ""},
                                 ["value1", "value2", "value3"]) == \
        {"key3": "value3", "key1": "value1", "key2": "value2"}
    packed = tree.pack_sequence_as({"key3": {"c": ("alpha", "beta"), "a": ("gamma")},
                                    "key1": {"e": "val1", "d": "val2"}},
                                   ["val2", "val1", 3.0, 1.0, 2.0])
    assert packed == {"key3": {"c": (1.0, 2.0), "a": 3.0}, "key1": {"e": "val1", "d": "val2"}}


def test_map_structure_matches_keras(ref):
    def describe(*leaves):
        return ("mapped",) + tuple(leaves)

    for s in _structures():
        _same(tree.map_structure(describe, s), ref.map_structure(describe, s))
        _same(tree.map_structure(describe, s, s), ref.map_structure(describe, s, s))
        _same(tree.map_structure(describe, s, none_is_leaf=False),
              ref.map_structure(describe, s, none_is_leaf=False))
        _same(tree.map_structure(describe, s, s, none_is_leaf=False),
              ref.map_structure(describe, s, s, none_is_leaf=False))
    assert tree.map_structure(lambda v: v * 2, Point(1, 2)) == Point(2, 4)


def test_map_structure_dict_types_and_orders_mix_like_keras(ref):
    pairs = [({"a": 1, "b": 2}, OD([("b", 10), ("a", 20)])),
             (OD([("b", 10), ("a", 20)]), {"a": 1, "b": 2}),
             ({"b": 10, "a": 20}, collections.defaultdict(int, {"a": 1, "b": 2})),
             (OD([("a", 1), ("b", 2)]), OD([("b", 3), ("a", 4)]))]
    for a, b in pairs:
        _same(tree.map_structure(lambda x, y: (x, y), a, b),
              ref.map_structure(lambda x, y: (x, y), a, b))


@pytest.mark.parametrize("a, b", [
    ([1, 2], (1, 2)), ([1, 2], [1, [2]]), ([1, [2]], [1, 2]), ([1, 2], [1, 2, 3]),
    ({"a": 1}, {"b": 1}), (Point(1, 2), OtherPoint(1, 2)), (Point(1, 2), (1, 2)),
    (collections.deque([1]), [1]), (None, []), ([], None), (1, [1]), ([1], 1),
    (None, 1), ([None], [5]), ({"a": 1, "b": 2}, OD([("b", 1), ("a", 2)])),
    ({"a": [1, (2,)]}, {"a": [3, (4,)]}), (Point(1, [2]), Point(3, [4])),
])
def test_structure_mismatches_raise_like_keras(ref, a, b):
    _same_outcome(_outcome(tree.assert_same_structure, a, b),
                  _outcome(ref.assert_same_structure, a, b))
    _same_outcome(_outcome(tree.map_structure, lambda x, y: (x, y), a, b),
                  _outcome(ref.map_structure, lambda x, y: (x, y), a, b))
    _same_outcome(_outcome(tree.assert_same_paths, a, b),
                  _outcome(ref.assert_same_paths, a, b))


def test_none_is_leaf_false_like_keras(ref):
    cases = [([1, None, (None, 2)],), ([1, None], [2, None]), ([1, None], [2, 3]),
             ([1, 3], [2, None]), (None,), (None, None), ({"a": None, "b": 1},)]
    for structures in cases:
        _same_outcome(
            _outcome(tree.map_structure, lambda *v: v, *structures, none_is_leaf=False),
            _outcome(ref.map_structure, lambda *v: v, *structures, none_is_leaf=False))


def test_assert_same_structure_messages_and_check_types():
    with pytest.raises(ValueError, match="list .* against tuple"):
        tree.assert_same_structure([1, 2], (1, 2))
    with pytest.raises(ValueError, match=r"missing: \['a'\], extra: \['b'\]"):
        tree.assert_same_structure({"a": 1}, {"b": 1})
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=False)
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree.assert_same_structure([1], [2])


def test_assert_same_paths_matches_keras(ref):
    cases = [([0, 1], (2, 3)), (Point(0, 1), OtherPoint(2, 3)), (Point(0, 1), (2, 3)),
             ({"a": 1, "b": [1]}, {"a": 1, "b": (2, 3)}), ({"a": 1}, OD([("a", 2)])),
             ([1, [2]], [1, 2]), (None, 3)]
    for a, b in cases:
        _same_outcome(_outcome(tree.assert_same_paths, a, b),
                      _outcome(ref.assert_same_paths, a, b))
    with pytest.raises(ValueError, match=r"Paths in `b` missing in `a`:\n\{\('b', 1\)\}"):
        tree.assert_same_paths({"a": 1, "b": [1]}, {"a": 1, "b": (2, 3)})


def test_traverse_matches_keras(ref):
    for top_down in (True, False):
        for s in _structures():
            ours, theirs = [], []
            _same(tree.traverse(ours.append, s, top_down=top_down),
                  ref.traverse(theirs.append, s, top_down=top_down))
            assert len(ours) == len(theirs)
            for a, b in zip(ours, theirs):
                _same(a, b)

    def tuples_to_x(x):
        return "X" if isinstance(x, tuple) else None

    def drop_tuples(x):
        return tree.MAP_TO_NONE if isinstance(x, tuple) else None

    def drop_tuples_keras(x):
        from keras.src.tree.tree_api import MAP_TO_NONE
        return MAP_TO_NONE if isinstance(x, tuple) else None

    def scale_ints(x):
        return x * 10 if isinstance(x, int) else None

    def sum_lists(x):
        return sum(x) if isinstance(x, list) and all(isinstance(v, int) for v in x) else None

    for s in ([(1, 2), [3], {"a": (4,)}], {"b": [1, (2,)], "a": 3}, [[1, 2], [3, [4]]],
              Point((1,), [2, 3])):
        for top_down in (True, False):
            for func in (tuples_to_x, scale_ints, sum_lists):
                _same(tree.traverse(func, s, top_down=top_down),
                      ref.traverse(func, s, top_down=top_down))
            _same(tree.traverse(drop_tuples, s, top_down=top_down),
                  ref.traverse(drop_tuples_keras, s, top_down=top_down))


def test_traverse_documented_example():
    seen = []
    out = tree.traverse(seen.append, [(1, 2), [3], {"a": 4}], top_down=False)
    assert out == [(1, 2), [3], {"a": 4}]
    assert seen == [1, 2, (1, 2), 3, [3], 4, {"a": 4}, [(1, 2), [3], {"a": 4}]]


def test_lists_to_tuples_and_map_shape_structure_match_keras(ref):
    for s in _structures() + [[[1, [2]], {"b": [3], "a": (4, [5])}, Point([1], 2)]]:
        _same(tree.lists_to_tuples(s), ref.lists_to_tuples(s))
    shapes = [{"b": (None, 3), "a": [(1, 2), [None]], "c": 5, "d": [], "e": None},
              [[1, (2,)], ((3,),)], [(True, 2)], (None, 4), [Point(1, 2), {"x": [None]}],
              OD([("z", (1,)), ("y", [[2]])])]
    for s in shapes:
        _same(tree.map_shape_structure(lambda v: ("S", v), s),
              ref.map_shape_structure(lambda v: ("S", v), s))


def test_map_structure_up_to_follows_keras_documentation(keras3):
    structure = [[1, 1], [2, 2]]
    assert tree.map_structure_up_to([None, None], len, structure) == [2, 2]
    assert tree.map_structure_up_to([None, [None, None]], str, structure) == \
        ["[1, 1]", ["2", "2"]]
    cases = [([None, None], len, ([[1, 1], [2, 2, 2]],)),
             ([None, [None, None]], lambda a, b: (a, b), ([[1, 1], [2, 2]], [3, [4, 5]])),
             ({"a": None, "b": None}, str, ({"b": [1], "a": 2},)),
             (1, str, ([1, 2],)), (None, str, ([1, 2],)), ([None], str, ([None],)),
             ((None, (None,)), repr, (((1, 2), ([3],)),))]
    for shallow, func, structures in cases:
        _same(tree.map_structure_up_to(shallow, func, *structures),
              keras3.tree.map_structure_up_to(shallow, func, *structures))
    for shallow, structures in [([None, [None, None]], ([[1, 1], 2],)),
                                ([None, None], ((1, 2),)), ({"a": None}, ({"b": 1, "a": 2},)),
                                ([None, None], ([1, 2, 3],))]:
        _same_outcome(_outcome(tree.map_structure_up_to, shallow, str, *structures),
                      _outcome(keras3.tree.map_structure_up_to, shallow, str, *structures))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="func=3"):
        tree.map_structure(3, [1])
    with pytest.raises(TypeError, match="func='f'"):
        tree.traverse("f", [1])
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure(len)
    with pytest.raises(ValueError, match="at least one structure"):
        tree.map_structure_up_to([None], len)
    with pytest.raises(TypeError, match="flat_sequence=5"):
        tree.pack_sequence_as([1], 5)
    with pytest.raises(ValueError, match="2 items but `structure` has 3 leaves"):
        tree.pack_sequence_as([1, [2, 3]], [1, 2])


def test_unsortable_keys_keep_insertion_order(ref):
    s = {1: "one", "a": "letter"}
    assert tree.flatten(s) == ref.flatten(s) == ["one", "letter"]
    assert tree.pack_sequence_as(s, [10, 20]) == {1: 10, "a": 20}
