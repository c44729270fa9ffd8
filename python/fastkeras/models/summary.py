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


def _wrap(items, width):
    """Comma-separated items packed into lines of at most `width` characters (an item longer
    than that gets a line of its own), each line but the last ending in a comma."""
    lines, current = [], ""
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if current and len(current) + 1 + len(piece) > width:
            lines.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    lines.append(current)
    return lines


def format_summary(model, line_length=None, rows=None, optimizer_params=0) -> str:
    """rows: (name, type, output shape, params) per layer, plus for functional models the
    list of inputs each layer is connected to (Keras's "Connected to" column)."""
    connected = bool(rows) and len(rows[0]) == 5
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if connected else [])
    cells = []
    for row in rows:
        name, kind, shape, params = row[:4]
        cell = [[f"{name} ({kind})"], [_shape_str(shape)], [f"{params:,}"]]
        if connected:
            cell.append(_wrap(row[4], 30) if row[4] else ["-"])
        cells.append(cell)
    widths = [33, 24, 15] + ([24] if connected else [])
    for cell in cells:
        for i in (0, 1, 3) if connected else (0, 1):
            widths[i] = max(widths[i], max(len(text) for text in cell[i]) + 2)

    def line(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    def row(values, sep):
        parts = []
        for i, value in enumerate(values):
            align = ">" if i == 2 else "<"
            parts.append(f" {value:{align}{widths[i] - 2}} ")
        return sep + sep.join(parts) + sep

    out = [f'Model: "{model.name}"', line("┏", "┳", "┓", "━"), row(headers, "┃"),
           line("┡", "╇", "┩", "━")]
    for i, cell in enumerate(cells):
        if i:
            out.append(line("├", "┼", "┤", "─"))
        for k in range(max(len(texts) for texts in cell)):
            out.append(row([texts[k] if k < len(texts) else "" for texts in cell], "│"))
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
