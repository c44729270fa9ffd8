"""`fastkeras.ops` on symbolic tensors: calling an op on a KerasTensor while a Functional model
is being defined records an *operation* node in the graph, as Keras 3 does.

An operation is a small object (one class per op, named as Keras names it: `Add`, `Mean`,
`Concatenate`...) holding the op's static arguments (its config, e.g. `axis`). Its call arguments
(the tensors and any constants such as the `2.0` of `x * 2.0`) live on the graph node. Replaying
the node on real tensors calls the eager op, so gradients flow through the usual tape.
Operations are not layers: a model's `layers` leaves them out, while its config, summary and
plot list them.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from fastkeras.layers.input_layer import KerasTensor, Node, _symbolic_leaves
from fastkeras.layers.layer import to_snake_case, unique_name

# op name -> (Keras module suffix, Keras class name, config argument names,
#             call arguments Keras passes by keyword). Every other argument of the op is a call
# argument, passed positionally in the op's own order.
_SPECS = {
    "add": ("numpy", "Add", ()),
    "subtract": ("numpy", "Subtract", ()),
    "multiply": ("numpy", "Multiply", ()),
    "divide": ("numpy", "Divide", ()),
    "true_divide": ("numpy", "TrueDivide", ()),
    "power": ("numpy", "Power", ()),
    "maximum": ("numpy", "Maximum", ()),
    "minimum": ("numpy", "Minimum", ()),
    "matmul": ("numpy", "Matmul", ()),
    "dot": ("numpy", "Dot", ()),
    "negative": ("numpy", "Negative", ()),
    "exp": ("numpy", "Exp", ()),
    "expm1": ("numpy", "Expm1", ()),
    "log": ("numpy", "Log", ()),
    "log1p": ("numpy", "Log1p", ()),
    "sqrt": ("numpy", "Sqrt", ()),
    "square": ("numpy", "Square", ()),
    "abs": ("numpy", "Absolute", ()),
    "absolute": ("numpy", "Absolute", ()),
    "sign": ("numpy", "Sign", ()),
    "cos": ("numpy", "Cos", ()),
    "sin": ("numpy", "Sin", ()),
    "tanh": ("numpy", "Tanh", ()),
    "where": ("numpy", "Where", ()),
    "einsum": ("numpy", "Einsum", ("subscripts",)),
    "equal": ("numpy", "Equal", ()),
    "not_equal": ("numpy", "NotEqual", ()),
    "greater": ("numpy", "Greater", ()),
    "greater_equal": ("numpy", "GreaterEqual", ()),
    "less": ("numpy", "Less", ()),
    "less_equal": ("numpy", "LessEqual", ()),
    "logical_and": ("numpy", "LogicalAnd", ()),
    "logical_or": ("numpy", "LogicalOr", ()),
    "logical_xor": ("numpy", "LogicalXor", ()),
    "logical_not": ("numpy", "LogicalNot", ()),
    "isnan": ("numpy", "Isnan", ()),
    "isinf": ("numpy", "Isinf", ()),
    "isfinite": ("numpy", "Isfinite", ()),
    "getitem": ("numpy", "GetItem", ()),
    "sum": ("numpy", "Sum", ("axis", "keepdims")),
    "mean": ("numpy", "Mean", ("axis", "keepdims")),
    "max": ("numpy", "Max", ("axis", "keepdims", "initial")),
    "min": ("numpy", "Min", ("axis", "keepdims", "initial")),
    "std": ("numpy", "Std", ("axis", "keepdims")),
    "var": ("numpy", "Var", ("axis", "keepdims")),
    "argmax": ("numpy", "Argmax", ("axis", "keepdims")),
    "argmin": ("numpy", "Argmin", ("axis", "keepdims")),
    "reshape": ("numpy", "Reshape", ("newshape",)),
    "transpose": ("numpy", "Transpose", ("axes",)),
    "concatenate": ("numpy", "Concatenate", ("axis",)),
    "stack": ("numpy", "Stack", ("axis",)),
    "expand_dims": ("numpy", "ExpandDims", ("axis",)),
    "squeeze": ("numpy", "Squeeze", ("axis",)),
    "clip": ("numpy", "Clip", ("x_min", "x_max")),
    "zeros_like": ("numpy", "ZerosLike", ("dtype",)),
    "ones_like": ("numpy", "OnesLike", ("dtype",)),
    "pad": ("numpy", "Pad", ("pad_width", "mode"), ("constant_values",)),
    "repeat": ("numpy", "Repeat", ("repeats", "axis")),
    "cast": ("core", "Cast", ("dtype",)),
    "convert_to_tensor": ("core", "ConvertToTensor", ("dtype", "sparse", "ragged")),
    "erf": ("math", "Erf", ()),
    "relu": ("nn", "Relu", ()),
    "relu6": ("nn", "Relu6", ()),
    "sigmoid": ("nn", "Sigmoid", ()),
    "softplus": ("nn", "Softplus", ()),
    "softsign": ("nn", "Softsign", ()),
    "silu": ("nn", "Silu", ()),
    "swish": ("nn", "Silu", ()),
    "selu": ("nn", "Selu", ()),
    "elu": ("nn", "Elu", ("alpha",)),
    "gelu": ("nn", "Gelu", ("approximate",)),
    "leaky_relu": ("nn", "LeakyRelu", ("negative_slope",)),
    "hard_sigmoid": ("nn", "HardSigmoid", ()),
    "hard_silu": ("nn", "HardSilu", ()),
    "hard_swish": ("nn", "HardSilu", ()),
    "softmax": ("nn", "Softmax", ("axis",)),
    "log_softmax": ("nn", "LogSoftmax", ("axis",)),
    "one_hot": ("nn", "OneHot", ("num_classes", "axis", "dtype", "sparse")),
    "moments": ("nn", "Moments", ("axes", "keepdims", "synchronized")),
    # fastkeras.ops.numpy_extra
    "floor": ("numpy", "Floor", ()),
    "ceil": ("numpy", "Ceil", ()),
    "trunc": ("numpy", "Trunc", ()),
    "round": ("numpy", "Round", ("decimals",)),
    "reciprocal": ("numpy", "Reciprocal", ()),
    "rsqrt": ("math", "Rsqrt", ()),
    "log2": ("numpy", "Log2", ()),
    "log10": ("numpy", "Log10", ()),
    "exp2": ("numpy", "Exp2", ()),
    "cosh": ("numpy", "Cosh", ()),
    "sinh": ("numpy", "Sinh", ()),
    "tan": ("numpy", "Tan", ()),
    "arctan": ("numpy", "Arctan", ()),
    "arcsin": ("numpy", "Arcsin", ()),
    "arccos": ("numpy", "Arccos", ()),
    "arcsinh": ("numpy", "Arcsinh", ()),
    "arccosh": ("numpy", "Arccosh", ()),
    "arctanh": ("numpy", "Arctanh", ()),
    "arctan2": ("numpy", "Arctan2", ()),
    "hypot": ("numpy", "Hypot", ()),
    "logaddexp": ("numpy", "Logaddexp", ()),
    "mod": ("numpy", "Mod", ()),
    "floor_divide": ("numpy", "FloorDivide", ()),
    "log_sigmoid": ("nn", "LogSigmoid", ()),
    "nan_to_num": ("numpy", "NanToNum", ("nan", "posinf", "neginf")),
    "isclose": ("numpy", "Isclose", ("equal_nan",), ("rtol", "atol")),
    "tril": ("numpy", "Tril", ("k",)),
    "triu": ("numpy", "Triu", ("k",)),
    "full_like": ("numpy", "FullLike", ("dtype",)),
    "all": ("numpy", "All", ("axis", "keepdims")),
    "any": ("numpy", "Any", ("axis", "keepdims")),
    "prod": ("numpy", "Prod", ("axis", "keepdims", "dtype")),
    "cumsum": ("numpy", "Cumsum", ("axis", "dtype")),
    "cumprod": ("numpy", "Cumprod", ("axis", "dtype")),
    "logsumexp": ("math", "Logsumexp", ("axis", "keepdims")),
    "norm": ("linalg", "Norm", ("ord", "axis", "keepdims")),
    "count_nonzero": ("numpy", "CountNonzero", ("axis",)),
    "amax": ("numpy", "Amax", ("axis", "keepdims")),
    "amin": ("numpy", "Amin", ("axis", "keepdims")),
    "average": ("numpy", "Average", ("axis",), ("weights",)),
    "median": ("numpy", "Median", ("axis", "keepdims")),
    "tile": ("numpy", "Tile", ("repeats",)),
    "split": ("numpy", "Split", ("indices_or_sections", "axis")),
    "array_split": ("numpy", "ArraySplit", ("indices_or_sections", "axis")),
    "broadcast_to": ("numpy", "BroadcastTo", ("shape",)),
    "flip": ("numpy", "Flip", ("axis",)),
    "roll": ("numpy", "Roll", ("shift", "axis")),
    "swapaxes": ("numpy", "Swapaxes", ("axis1", "axis2")),
    "moveaxis": ("numpy", "Moveaxis", ("source", "destination")),
    "take": ("numpy", "Take", ("axis",)),
    "take_along_axis": ("numpy", "TakeAlongAxis", ("axis",)),
    "slice": ("core", "Slice", ("shape",)),
    "slice_update": ("core", "SliceUpdate", ()),
    "append": ("numpy", "Append", ("axis",)),
    "diagonal": ("numpy", "Diagonal", ("offset", "axis1", "axis2")),
    "trace": ("numpy", "Trace", ("offset", "axis1", "axis2")),
    "ravel": ("numpy", "Ravel", ()),
    "copy": ("numpy", "Copy", ()),
    "sort": ("numpy", "Sort", ("axis",)),
    "argsort": ("numpy", "Argsort", ("axis",)),
    "top_k": ("math", "TopK", ("k", "sorted")),
    "dot_product_attention": ("nn", "DotProductAttention",
                              ("is_causal", "flash_attention", "attn_logits_soft_cap"),
                              ("bias", "mask", "scale")),
    "binary_crossentropy": ("nn", "BinaryCrossentropy", ("from_logits",)),
    "categorical_crossentropy": ("nn", "CategoricalCrossentropy", ("from_logits", "axis")),
    "sparse_categorical_crossentropy": ("nn", "SparseCategoricalCrossentropy",
                                        ("from_logits", "axis")),
    "normalize": ("nn", "Normalize", ("axis", "order", "epsilon")),
    "conv": ("nn", "Conv", ("strides", "padding", "data_format", "dilation_rate")),
    "layer_normalization": ("nn", "LayerNorm", ("axis", "epsilon", "rms_scaling"),
                            ("gamma", "beta")),
    "linspace": ("numpy", "Linspace", ("num", "endpoint", "retstep", "dtype", "axis")),
    "unique": ("numpy", "Unique", ("sorted", "return_index", "return_inverse", "return_counts",
                                   "axis", "size", "fill_value")),
    "ndim": ("numpy", "Ndim", ()),
    "size": ("numpy", "Size", ()),
    "allclose": ("numpy", "AllClose", ("rtol", "atol", "equal_nan")),
}


def _unique_spec(config, x):
    axis, size = config.get("axis"), config.get("size")
    values, inverse = [size], x.shape
    if axis is not None:
        axis = axis % len(x.shape)
        values = list(x.shape)
        values[axis] = size
        inverse = (x.shape[axis],)
    specs = [(tuple(values), x.dtype)]
    if config.get("return_index"):
        specs.append(((size,), "int32"))
    if config.get("return_inverse"):
        specs.append((tuple(inverse), "int32"))
    if config.get("return_counts"):
        specs.append(((size,), "int32"))
    return specs


# op name -> fn(config, *call_args) giving the (shape, dtype) of each output, as Keras gives
# them, for ops whose output shape depends on the values (unique) or that Keras describes
# without running them (ndim: a float vector of the rank's length).
_OUTPUT_SPECS = {
    "unique": _unique_spec,
    "ndim": lambda config, x: [((len(x.shape),), "float32")],
    "size": lambda config, x: [((), "int32")],
    "allclose": lambda config, x1, x2: [((), "bool")],
}

# Keras class name -> the Operation subclass (filled by `install`).
OPERATIONS: dict[str, type] = {}


def is_symbolic(x) -> bool:
    if type(x) is KerasTensor:
        return True
    if type(x) in (list, tuple):
        return any(type(v) is KerasTensor for v in x)
    return False


class Operation:
    """One op used in a functional graph. Subclasses (made by `install`) fix `_fn`, the eager
    op, and the Keras names; instances hold the op's config."""

    _fn = None
    _module = "numpy"
    _config_names: tuple = ()
    _call_names: tuple = ()   # the eager op's call arguments, in order
    _keyword_calls: tuple = ()
    _output_spec = None   # fn(config, *call_args) -> [(shape, dtype), ...], or probe the op

    def __init__(self, name=None, **config):
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"{type(self).__name__}: `name` must be a string without '/'. "
                             f"Received: name={name!r}")
        unknown = [k for k in config if k not in self._config_names]
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected config argument(s) {unknown}; "
                            f"it takes {list(self._config_names)}")
        if config.get("sparse"):
            raise ValueError(f"{type(self).__name__}: sparse outputs are not supported. "
                             f"Received: sparse={config['sparse']!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._config = config
        self._inbound_nodes = []
        self._output_shape = None
        self._build_input_shape = None
        self.built = True
        self.trainable = True

    # A graph walk treats operations like weightless layers.
    weights = trainable_weights = non_trainable_weights = ()

    def count_params(self) -> int:
        return 0

    def _eager_kwargs(self):
        # `sparse` is Keras's (always False here); the eager ops do not take it.
        return {k: v for k, v in self._config.items() if k != "sparse"}

    def __call__(self, *args, **kwargs):
        if any(is_symbolic(a) for a in args) or any(is_symbolic(v) for v in kwargs.values()):
            return self.symbolic_call(args, kwargs)
        return type(self)._fn(*args, **kwargs, **self._eager_kwargs())

    def symbolic_call(self, args, kwargs):
        """Infers the output shape(s) by running the op on two probe batches (a dimension that
        changes with the batch size is unknown, None), or from the op's `_output_spec`, and
        records the call as a graph node."""
        if type(self)._output_spec is not None:
            specs = type(self)._output_spec(self._config, *args, **kwargs)
            return self._record(args, kwargs, specs, tuple if len(specs) > 1 else None)
        from fastkeras.backend.tape import no_grad
        fn = type(self)._fn

        def run(size):
            def probe(x):
                if type(x) is KerasTensor:
                    shape = tuple(size if d is None else d for d in x.shape)
                    if x.dtype == "string":  # text: probe words
                        return np.full(shape, "a", dtype=object)
                    return np.ones(shape, dtype=np.dtype(x.dtype))
                if type(x) in (list, tuple):
                    return type(x)(probe(v) for v in x)
                return x
            with no_grad(), np.errstate(all="ignore"):
                return fn(*[probe(a) for a in args], **{k: probe(v) for k, v in kwargs.items()},
                          **self._eager_kwargs())

        def specs_at(sizes):
            results = [run(size) for size in sizes]
            multi = isinstance(results[0], (list, tuple))
            outs_a = list(results[0]) if multi else [results[0]]
            outs_b = list(results[1]) if multi else [results[1]]
            specs = []
            for a, b in zip(outs_a, outs_b):
                a, b = np.asarray(a), np.asarray(b)
                if a.ndim != b.ndim:
                    shape = (None,) * a.ndim
                else:
                    shape = tuple(None if da != db else int(da)
                                  for da, db in zip(a.shape, b.shape))
                specs.append((shape, str(a.dtype)))
            return specs, type(results[0]) if multi else None

        # Probe sizes for the free (None) dimensions, as a layer's: moderate ones first, large
        # ones when those leave a fixed size (`x[:, 3:]` of a free length, a window larger than
        # the probe), tiny ones for ops that take only short lengths. A fixed size of 0 is
        # never a free dimension's answer while another pair can tell.
        # (when only the batch is free, the tiny sizes come first: they keep the probes of
        # large inputs cheap)
        leaves = _symbolic_leaves((args, kwargs))
        if any(None in t.shape[1:] for t in leaves):
            pairs = ((12, 18), (72, 108), (2, 3))
        else:
            pairs = ((2, 3), (12, 18), (72, 108)) if any(t.shape[:1] == (None,)
                                                         for t in leaves) else ((2, 3),)
        found, first_error = None, None
        for sizes in pairs:
            try:
                specs, container = specs_at(sizes)
            except (ValueError, TypeError, IndexError) as e:
                first_error = first_error or e
                continue
            if found is None:
                found = (specs, container)
            if not any(0 in shape for shape, _ in specs):
                found = (specs, container)
                break
        if found is None:
            shapes = [a.shape if type(a) is KerasTensor else
                      [v.shape if type(v) is KerasTensor else v for v in a]
                      if type(a) in (list, tuple) else a for a in args]
            raise ValueError(f"Operation '{self.name}' ({type(self).__name__}) cannot be "
                             f"applied to inputs {shapes} with config {self._config}: "
                             f"{first_error}") from first_error
        specs, container = found
        return self._record(args, kwargs, specs, container)

    def _record(self, args, kwargs, specs, container):
        """The graph node of this call with outputs of the given (shape, dtype)s, collected in
        `container` (None: a single output)."""
        node = Node(self, list(args), dict(kwargs))
        self._inbound_nodes.append(node)
        tensors = [KerasTensor(shape, dtype=dtype, name=self.name, layer=self,
                               inputs=[list(args), dict(kwargs)], index=i, node=node)
                   for i, (shape, dtype) in enumerate(specs)]
        self._output_shape = [t.shape for t in tensors] if container else tensors[0].shape
        node.outputs = container(tensors) if container else tensors[0]
        return node.outputs

    def get_config(self) -> dict:
        config = {"name": self.name}
        config.update({k: _to_json(v) for k, v in self._config.items()})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("trainable", None)
        if "dtype" not in cls._config_names:
            config.pop("dtype", None)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _to_json(v):
    if isinstance(v, tuple):
        return [_to_json(x) for x in v]
    if isinstance(v, list):
        return [_to_json(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (np.dtype, type)):
        return np.dtype(v).name
    return v


def serialize_arg(v):
    """A call argument in Keras's config form (slices as `__slice__` objects)."""
    if isinstance(v, slice):
        return {"class_name": "__slice__",
                "config": {"start": v.start, "stop": v.stop, "step": v.step}}
    if v is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(v, tuple):
        return [serialize_arg(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def deserialize_arg(v, index=False):
    if isinstance(v, dict) and v.get("class_name") == "__slice__":
        c = v["config"]
        return slice(c.get("start"), c.get("stop"), c.get("step"))
    if isinstance(v, dict) and v.get("class_name") == "__ellipsis__":
        return Ellipsis
    if isinstance(v, list) and index:
        return tuple(deserialize_arg(x) for x in v)
    return v


def make_operation_class(op_name, fn):
    spec = _SPECS[op_name]
    module, class_name, config_names = spec[:3]
    keyword_calls = spec[3] if len(spec) > 3 else ()
    params = list(inspect.signature(fn).parameters)
    call_names = tuple(p for p in params if p not in config_names and p not in keyword_calls)
    cls = OPERATIONS.get(class_name)
    if cls is None:  # swish/silu and hard_swish/hard_silu share one Keras class
        cls = type(class_name, (Operation,), {
            "_fn": staticmethod(_config_first(fn, config_names)), "_module": module,
            "_config_names": tuple(config_names),
            "_call_names": call_names, "_keyword_calls": tuple(keyword_calls),
            "_output_spec": staticmethod(_OUTPUT_SPECS[op_name]) if op_name in _OUTPUT_SPECS
            else None,
            "__doc__": f"The `{op_name}` op as a functional-graph node (Keras's {class_name})."})
        OPERATIONS[class_name] = cls
    return cls


def _config_first(fn, config_names):
    """`fn` callable as fn(*call_args, **config) even when a config argument comes before a
    `*operands` parameter (einsum(subscripts, *operands)): such arguments are put back in
    front."""
    params = list(inspect.signature(fn).parameters.values())
    star = next((i for i, p in enumerate(params) if p.kind is p.VAR_POSITIONAL), None)
    leading = [p.name for p in params[:star or 0] if p.name in config_names]
    if not leading:
        return fn

    @functools.wraps(fn)
    def replay(*args, **kwargs):
        return fn(*[kwargs.pop(name) for name in leading], *args, **kwargs)

    return replay


def symbolic_dispatch(op_name, fn):
    """`fn` (an eager op) that, given a KerasTensor anywhere in its arguments, records an
    operation node instead of computing."""
    cls = make_operation_class(op_name, fn)
    signature = inspect.signature(fn)
    config_names = cls._config_names
    keyword_calls = cls._keyword_calls

    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            if type(a) is KerasTensor or (type(a) in (list, tuple) and is_symbolic(a)):
                break
        else:
            if not kwargs or not any(is_symbolic(v) for v in kwargs.values()):
                return fn(*args, **kwargs)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"fastkeras.ops.{op_name}: {e}") from None
        given = bound.arguments
        config = {}
        for p in config_names:
            if p in given:
                config[p] = given[p]
            elif p in signature.parameters:
                config[p] = signature.parameters[p].default
            elif p == "sparse" or p == "synchronized":
                config[p] = False
        call_args = []
        for p in cls._call_names:
            if p in given:  # a *operands parameter spreads into the call's positional arguments
                if signature.parameters[p].kind is inspect.Parameter.VAR_POSITIONAL:
                    call_args.extend(given[p])
                else:
                    call_args.append(given[p])
        call_kwargs = {p: given[p] for p in keyword_calls if p in given}
        return cls(**config)(*call_args, **call_kwargs)

    return op


def unsupported_on_symbolic(op_name, fn):
    """An op with no graph node form: a clear error on KerasTensors, the op otherwise."""

    @functools.wraps(fn)
    def op(*args, **kwargs):
        if any(is_symbolic(a) for a in args) or any(is_symbolic(v) for v in kwargs.values()):
            raise TypeError(f"fastkeras.ops.{op_name} cannot be applied to a symbolic "
                            "KerasTensor in a Functional model; call it inside a Layer's "
                            "`call` instead.")
        return fn(*args, **kwargs)

    return op


def install(namespace: dict, names) -> None:
    """Replaces each op in `namespace` by its symbolic-aware form."""
    for name in names:
        fn = namespace[name]
        if name == "shape":
            namespace[name] = _shape_op(fn)
        elif name in _SPECS:
            namespace[name] = symbolic_dispatch(name, fn)
        elif name not in ("convert_to_numpy", "linear"):
            namespace[name] = unsupported_on_symbolic(name, fn)


def _shape_op(fn):
    @functools.wraps(fn)
    def shape(x):
        if type(x) is KerasTensor:
            return tuple(x.shape)
        return fn(x)
    return shape


def operation_from_config(spec):
    """An Operation from a Keras functional-config layer entry whose module is `keras.src.ops.*`
    (None when `spec` is not one)."""
    module = spec.get("module") or ""
    if not module.startswith("keras.src.ops") and not module.startswith("fastkeras.ops"):
        return None
    cls = OPERATIONS.get(spec.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown operation '{spec.get('class_name')}' (module {module}) in the "
                         f"model config; supported: {sorted(OPERATIONS)}")
    return cls.from_config(spec.get("config", {}))
