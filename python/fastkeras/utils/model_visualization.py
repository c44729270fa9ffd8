"""`plot_model` / `model_to_dot`: a model's layer graph drawn with pydot and Graphviz's `dot`.

pydot (the `plot` extra: `pip install fastkeras[plot]`) builds the graph; Graphviz's `dot`
program (a system package, e.g. `apt-get install graphviz`) renders it to PNG, SVG, PDF...
"""

from __future__ import annotations

import html
import os

PYDOT_MISSING = ("You must install pydot (`pip install pydot`, or `pip install fastkeras[plot]`) "
                 "for `plot_model` to work.")
GRAPHVIZ_MISSING = ("You must install Graphviz and have its `dot` program on the PATH (e.g. "
                    "`apt-get install graphviz`; see https://graphviz.org/download/) for "
                    "`plot_model` to work.")


def _import_pydot():
    try:
        import pydot
    except ImportError:
        return None
    return pydot


def check_pydot() -> bool:
    return _import_pydot() is not None


def check_graphviz() -> bool:
    """Whether Graphviz's `dot` runs (pydot calls it to render)."""
    pydot = _import_pydot()
    if pydot is None:
        return False
    try:
        pydot.Dot.create(pydot.Dot())
        return True
    except Exception:  # noqa: BLE001  (pydot raises OSError, FileNotFoundError or its own)
        return False


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _label(layer, show_shapes, show_dtype, show_layer_names, show_layer_activations,
           show_trainable):
    kind = type(layer).__name__
    title = (f"<b>{html.escape(layer.name)}</b> ({kind})" if show_layer_names
             else f"<b>{kind}</b>")
    rows = [(f'<tr><td colspan="4" bgcolor="black"><font point-size="16" color="white">'
             f"{title}</font></td></tr>")]
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        name = getattr(activation, "__name__", None) or type(activation).__name__
        rows.append(f'<tr><td bgcolor="white" colspan="4"><font point-size="14">Activation: '
                    f"<b>{html.escape(str(name))}</b></font></td></tr>")
    cells = []
    if show_shapes:
        from fastkeras.layers.input_layer import InputLayer
        if not isinstance(layer, InputLayer):
            cells.append(("Input shape", _shape_text(layer._build_input_shape)))
        cells.append(("Output shape", _shape_text(layer._output_shape)))
    if show_dtype:
        cells.append(("Output dtype", str(getattr(layer, "dtype", None) or "float32")))
    body = "".join(f'<td bgcolor="white"><font point-size="14">{k}: <b>{html.escape(v)}</b>'
                   f"</font></td>" for k, v in cells)
    if show_trainable and layer.weights:
        color, text = ("forestgreen", "Trainable") if layer.trainable else ("firebrick",
                                                                             "Non-trainable")
        body += (f'<td bgcolor="{color}"><font point-size="14" color="white"><b>{text}</b>'
                 "</font></td>")
    if body:
        rows.append(f"<tr>{body}</tr>")
    return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            + "".join(rows) + "</table>>")


def _is_graph_model(layer):
    from fastkeras.models.functional import Functional
    from fastkeras.models.sequential import Sequential
    return isinstance(layer, (Functional, Sequential))


def _boxes(model, nested):
    """The boxes a model draws: a Functional's layers and operations; a Sequential's layers,
    with its InputLayer box unless it is drawn inside another model's cluster."""
    from fastkeras.models.functional import Functional
    if isinstance(model, Functional):
        return list(model._layers)
    if model._input_layer is not None and not nested:
        return [model._input_layer] + model.layers
    return model.layers


def _output_box(layer, index):
    """The innermost layer drawing output `index` of `layer` (a nested model has no box of its
    own once expanded)."""
    from fastkeras.models.functional import Functional
    while _is_graph_model(layer):
        if isinstance(layer, Functional):
            t = layer.outputs[index]
            layer, index = t._layer, t._index
        else:
            layer, index = layer.layers[-1], 0
    return layer


def _input_box(layer, index):
    from fastkeras.models.functional import Functional
    while _is_graph_model(layer):
        if isinstance(layer, Functional):
            layer = layer.inputs[min(index, len(layer.inputs) - 1)]._layer
        else:
            layer, index = layer.layers[0], 0
    return layer


def _edges(model, expand_nested, nested):
    """(source, destination) layer pairs; with `expand_nested`, an edge into or out of a nested
    model goes to the box inside it that takes or makes that tensor."""
    from fastkeras.models.functional import Functional, _tensors_in
    pairs = []
    if isinstance(model, Functional):
        for layer, node, _ in model._nodes:
            for i, t in enumerate(_tensors_in([node.inputs, node.kwargs])):
                if expand_nested:
                    pairs.append((_output_box(t._layer, t._index), _input_box(layer, i)))
                else:
                    pairs.append((t._layer, layer))
    else:
        boxes = _boxes(model, nested)
        for a, b in zip(boxes, boxes[1:]):
            pairs.append((_output_box(a, 0), _input_box(b, 0)) if expand_nested else (a, b))
    out = []
    for a, b in pairs:
        if (id(a), id(b)) not in out:
            out.append((id(a), id(b)))
    return out


def _draw(pydot, dot, model, expand_nested, nested, label_args):
    for layer in _boxes(model, nested):
        if expand_nested and _is_graph_model(layer):
            cluster = pydot.Cluster(graph_name=layer.name, style="dashed", label=layer.name,
                                    labeljust="l")
            _draw(pydot, cluster, layer, expand_nested, True, label_args)
            dot.add_subgraph(cluster)
        else:
            dot.add_node(pydot.Node(str(id(layer)), label=_label(layer, **label_args),
                                    fontname="Helvetica", border=0, margin=0))
    for src, dst in _edges(model, expand_nested, nested):
        dot.add_edge(pydot.Edge(str(src), str(dst), penwidth=2))


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """The model's layer graph as a `pydot.Dot`. With `expand_nested=True` a model used as a
    layer is drawn as a dashed cluster (labelled with its name) holding its own layers."""
    pydot = _import_pydot()
    if pydot is None:
        raise ImportError(PYDOT_MISSING)
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: build it (or call it "
                         "on data) before plotting it.")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"`rankdir` must be 'TB' (vertical) or 'LR' (horizontal). Received: "
                         f"rankdir={rankdir!r}")
    if kwargs:
        raise ValueError(f"model_to_dot: unrecognized keyword arguments {sorted(kwargs)}")
    if not _is_graph_model(model):
        raise ValueError(f"plot_model draws functional and Sequential models; model "
                         f"'{model.name}' is a subclassed {type(model).__name__}, whose graph "
                         "is only known to its `call` code.")
    if subgraph:
        dot = pydot.Cluster(graph_name=model.name, style="dashed", label=model.name,
                            labeljust="l")
    else:
        dot = pydot.Dot(graph_type="digraph")
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", "ortho")
        dot.set_node_defaults(shape="record")
    label_args = dict(show_shapes=show_shapes, show_dtype=show_dtype,
                      show_layer_names=show_layer_names,
                      show_layer_activations=show_layer_activations,
                      show_trainable=show_trainable)
    _draw(pydot, dot, model, expand_nested, subgraph, label_args)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draws the model's layer graph to `to_file` (its extension picks the format: png, svg,
    pdf, dot...). Needs pydot and Graphviz; in a notebook, returns the image to display."""
    if not check_pydot():
        raise ImportError(PYDOT_MISSING)
    if not check_graphviz():
        raise ImportError(GRAPHVIZ_MISSING)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable)
    to_file = os.fspath(to_file)
    _, extension = os.path.splitext(to_file)
    extension = extension[1:] if extension else "png"
    dot.write(to_file, format=extension)
    if extension != "dot":
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            pass
    return None
