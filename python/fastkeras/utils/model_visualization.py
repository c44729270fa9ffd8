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
    except Exception:  # pydot raises OSError, FileNotFoundError or its own errors
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
    rows = [f'<tr><td colspan="4" bgcolor="black"><font point-size="16" color="white">'
            f"{title}</font></td></tr>"]
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
        cells.append(("Output dtype", str(layer.dtype)))
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


def _graph(model):
    """(layers, edges between layer ids) for a functional or sequential model."""
    from fastkeras.models.functional import Functional, _flatten
    from fastkeras.models.sequential import Sequential
    if isinstance(model, Functional):
        edges = []
        for layer, node, _ in model._nodes:
            for t in _flatten(node.inputs):
                edge = (id(t._layer), id(layer))
                if edge not in edges:
                    edges.append(edge)
        return model.layers, edges
    if isinstance(model, Sequential):
        layers = ([model._input_layer] if model._input_layer is not None else []) + model.layers
        return layers, [(id(a), id(b)) for a, b in zip(layers, layers[1:])]
    raise ValueError(f"plot_model draws functional and Sequential models; model "
                     f"'{model.name}' is a subclassed {type(model).__name__}, whose graph is "
                     "only known to its `call` code.")


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """The model's layer graph as a `pydot.Dot`."""
    pydot = _import_pydot()
    if pydot is None:
        raise ImportError(PYDOT_MISSING)
    if not model.built:
        raise ValueError(f"Model '{model.name}' has not been built yet: build it (or call it "
                         "on data) before plotting it.")
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"`rankdir` must be 'TB' (vertical) or 'LR' (horizontal). Received: "
                         f"rankdir={rankdir!r}")
    dot = pydot.Dot(graph_type="digraph")
    dot.set("rankdir", rankdir)
    dot.set("concentrate", True)
    dot.set("dpi", dpi)
    dot.set("splines", "ortho")
    dot.set_node_defaults(shape="record")
    layers, edges = _graph(model)
    for layer in layers:
        label = _label(layer, show_shapes, show_dtype, show_layer_names,
                       show_layer_activations, show_trainable)
        dot.add_node(pydot.Node(str(id(layer)), label=label, fontname="Helvetica", border=0,
                                margin=0))
    for src, dst in edges:
        dot.add_edge(pydot.Edge(str(src), str(dst), penwidth=2))
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
