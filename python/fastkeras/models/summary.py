"""`model.summary()` in Keras 3's table form.

The layout follows Keras's rules: the table is `line_length` wide (by default 88 characters
for sequential-like models and 108 with the "Connected to" column, 12 more with
`show_trainable`, and never wider than the terminal less 4), split into columns at
`positions`; when the columns and their padding do not fit, every column gives up an equal
share. Text wraps at spaces inside its column, and a word longer than the column is cut with
an ellipsis."""

from __future__ import annotations

import re
import shutil

import numpy as np


def _fmt_size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} GB"


def _count(weights) -> int:
    return int(sum(int(np.prod(v.shape)) for v in weights))


def _shape_str(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_str(s) for s in shape) + "]"
    if shape is None:
        return "?"
    # (Keras writes a one-axis shape as "(None)", without Python's trailing comma)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _reduce_evenly(excess: int, widths: list) -> list:
    """Takes `excess` characters off the columns in equal shares (rounded half to even, the
    remainder carried to the next column)."""
    out, remaining, left = [], excess, len(widths)
    for w in widths:
        cut = min(w, round(remaining / left))
        out.append(w - cut)
        remaining -= cut
        left -= 1
    return out


def column_widths(n_columns_default, sequential_like, show_trainable, line_length=None,
                  positions=None):
    """Each column's width with its one-space padding on both sides (borders excluded)."""
    if sequential_like:
        default, positions = 88, positions or [0.45, 0.80, 1.0]
    else:
        default, positions = 108, positions or [0.3, 0.56, 0.74, 1.0]
    positions = list(positions)
    if show_trainable:
        default += 12
        positions = [p * 0.90 for p in positions] + [1.0]
    default = min(default, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width + 2)
        current += width
    inner = line_length - (len(widths) + 1)
    if sum(widths) > inner:
        widths = _reduce_evenly(sum(widths) - inner, widths)
    return widths


def _wrap(text: str, width: int) -> list:
    """`text` in lines of at most `width` characters, broken at spaces; a word longer than a
    line is cut, ending in an ellipsis."""
    lines = []
    for paragraph in str(text).split("\n"):
        indent = paragraph[:len(paragraph) - len(paragraph.lstrip(" "))]
        current = indent  # leading spaces stay (the "└" marks of nested layers)
        for word in paragraph.split():
            if current.strip() and len(current) + 1 + len(word) > width:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}" if current.strip() else current + word
        lines.append(current)
    return [line if len(line) <= width else line[:max(width - 1, 0)] + "…" for line in lines]


def _justify(text: str, width: int, how: str) -> str:
    if how == "right":
        return text.rjust(width)
    if how == "center":
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text.ljust(width)


def _connections_text(sources) -> str:
    return ", ".join(sources) if sources else "-"


def _shape_from_build(layer):
    """As Keras: a layer only ever called on data (inside a subclassed model) shows the output
    shape its build shape gives; None ("?") when that cannot be worked out."""
    built_for = getattr(layer, "_build_input_shape", None)
    if not getattr(layer, "built", False) or built_for is None:
        return None
    try:
        if layer._built_by_name():
            shape = layer.compute_output_shape(**built_for)
        else:
            shape = layer.compute_output_shape(built_for)
    except Exception:  # noqa: BLE001 (a layer that cannot say: "?", as Keras)
        return None
    return shape if isinstance(shape, (tuple, list)) else None


# The layers Keras marks built when they are made (they have no state to build), so a
# summary before the model is built lists them as "0", not "0 (unbuilt)".
_KERAS_BUILT_AT_INIT = frozenset(
    ["Activation", "ActivityRegularization", "AlphaDropout", "Dropout", "ELU",
     "GaussianDropout", "GaussianNoise", "Identity", "LeakyReLU", "Masking", "ReLU", "Softmax",
     "UnitNormalization", "Reshape"]
    + [f"{kind}{dims}D" for kind in ("MaxPooling", "AveragePooling", "GlobalMaxPooling",
                                     "GlobalAveragePooling", "SpatialDropout")
       for dims in (1, 2, 3)])


def _built_at_init(layer):
    return any(klass.__name__ in _KERAS_BUILT_AT_INIT
               and klass.__module__.startswith("fastkeras.") for klass in type(layer).__mro__)


def layer_rows(layers, connections, expand_nested, show_trainable, level=0):
    """One row (a list of cell texts) per layer, and with `expand_nested` one per layer of
    each nested model under it, indented with Keras's "└" marks."""
    rows = []
    for layer in layers:
        prefix = "   " * level + "└ " if level else ""
        shape = getattr(layer, "_output_shape", None)
        if shape is None:
            shape = _shape_from_build(layer)
        if not getattr(layer, "built", True):
            params = "0" if _built_at_init(layer) else "0 (unbuilt)"
        else:
            params = f"{layer.count_params():,}" if hasattr(layer, "count_params") else "0"
        row = [f"{prefix}{layer.name} ({type(layer).__name__})", _shape_str(shape), params]
        if connections is not None:
            row.append(_connections_text(connections.get(id(layer))) if level == 0 else "-")
        if show_trainable:
            weights = getattr(layer, "weights", [])
            row.append(("Y" if layer.trainable else "N") if weights else "-")
        rows.append(row)
        nested = getattr(layer, "layers", None) if expand_nested else None
        if nested:
            rows.extend(layer_rows(nested, connections, expand_nested, show_trainable,
                                   level + 1))
    return rows


def select_range(layers, layer_range):
    """The layers from the first whose name matches layer_range[0] to the last whose name
    matches layer_range[1] (regular expressions, as Keras)."""
    if layer_range is None:
        return layers
    if len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of length 2. Received: "
                         f"layer_range = {layer_range} of length {len(layer_range)}")
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range should contain string type only. Received: "
                         f"{layer_range}")
    lower = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    upper = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not lower or not upper:
        raise ValueError(f"Passed layer_names do not match the layer names in the model. "
                         f"Received: {layer_range}")
    if min(lower) > max(upper):
        return layers[min(upper):max(lower) + 1]
    return layers[min(lower):max(upper) + 1]


def format_summary(model, layers, connections=None, line_length=None, positions=None,
                   expand_nested=False, show_trainable=False, layer_range=None,
                   optimizer_params=0) -> str:
    """The summary text. `connections` ({id(layer): ["name[node][index]", ...]}) adds the
    "Connected to" column; None lays the model out as a sequence."""
    sequential_like = connections is None
    headers = ["Layer (type)", "Output Shape", "Param #"]
    justify = ["left", "left", "right"]
    if not sequential_like:
        headers.append("Connected to")
        justify.append("left")
    if show_trainable:
        headers.append("Trainable")
        justify.append("center")
    widths = column_widths(len(headers), sequential_like, show_trainable, line_length,
                           positions)
    rows = layer_rows(select_range(layers, layer_range), connections, expand_nested,
                      show_trainable)

    def rule(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def render(cells, sep, bottom=False):
        wrapped = [_wrap(text, w - 2) for text, w in zip(cells, widths)]
        height = max(len(lines) for lines in wrapped)
        if bottom:  # header cells sit on the header's last line
            wrapped = [[""] * (height - len(lines)) + lines for lines in wrapped]
        out = []
        for k in range(height):
            parts = [" " + _justify(lines[k] if k < len(lines) else "", w - 2, how) + " "
                     for lines, w, how in zip(wrapped, widths, justify)]
            out.append(sep + sep.join(parts) + sep)
        return out

    table = [rule("┏", "┳", "┓", "━")]
    table += render(headers, "┃", bottom=True)
    table.append(rule("┡", "╇", "┩", "━"))
    for i, cells in enumerate(rows):
        if i:
            table.append(rule("├", "┼", "┤", "─"))
        table += render(cells, "│")
    table.append(rule("└", "┴", "┘", "─"))
    # A table wider than the terminal (a large `line_length`) is cut at its edge, as Keras's
    # console does.
    columns = shutil.get_terminal_size().columns
    out = [f'Model: "{model.name}"'] + [line[:columns] for line in table]
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    total = trainable + non_trainable + optimizer_params
    out.append(f" Total params: {total:,} ({_fmt_size(total * 4)})")
    out.append(f" Trainable params: {trainable:,} ({_fmt_size(trainable * 4)})")
    out.append(f" Non-trainable params: {non_trainable:,} ({_fmt_size(non_trainable * 4)})")
    if optimizer_params:
        out.append(f" Optimizer params: {optimizer_params:,} "
                   f"({_fmt_size(optimizer_params * 4)})")
    return "\n".join(out)
