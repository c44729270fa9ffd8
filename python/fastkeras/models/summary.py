"""`model.summary()` in Keras 3's table form."""

from __future__ import annotations

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
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def format_summary(model, line_length=None, rows=None, optimizer_params=0) -> str:
    """rows: (name (type), output shape, params) per layer."""
    headers = ("Layer (type)", "Output Shape", "Param #")
    cells = [(f"{name} ({kind})", _shape_str(shape), f"{params:,}") for name, kind, shape, params in rows]
    widths = [33, 24, 15]
    for row in cells:
        widths[0] = max(widths[0], len(row[0]) + 2)
        widths[1] = max(widths[1], len(row[1]) + 2)
    def line(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right
    def row(values, sep):
        parts = [f" {values[0]:<{widths[0] - 2}} ", f" {values[1]:<{widths[1] - 2}} ",
                 f" {values[2]:>{widths[2] - 2}} "]
        return sep + sep.join(parts) + sep
    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), row(headers, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, values in enumerate(cells):
        if i:
            out.append(line("├", "┼", "┤", "─"))
        out.append(row(values, "│"))
    out.append(line("└", "┴", "┘", "─"))
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    total = trainable + non_trainable + optimizer_params
    out.append(f" Total params: {total:,} ({_fmt_size(total * 4)})")
    out.append(f" Trainable params: {trainable:,} ({_fmt_size(trainable * 4)})")
    out.append(f" Non-trainable params: {non_trainable:,} ({_fmt_size(non_trainable * 4)})")
    if optimizer_params:
        out.append(f" Optimizer params: {optimizer_params:,} ({_fmt_size(optimizer_params * 4)})")
    return "\n".join(out)
