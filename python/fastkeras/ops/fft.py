"""Keras 3's Fourier-transform ops (`fft`, `fft2`, `ifft2`, `rfft`, `irfft`, `stft`, `istft`,
`extract_sequences`) and window functions (`hamming`, `hanning`, `blackman`, `bartlett`,
`kaiser`).

As in Keras, a complex tensor is a `(real, imag)` pair of float tensors of one shape, and the
complex ops take and return such pairs. The transforms are linear, and each records its
adjoint on the tape, so gradients flow to the real and imaginary inputs. Float inputs keep
their precision; integer inputs of `rfft` and `stft` are refused as in Keras's PyTorch backend.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.config import floatx as _floatx
from fastkeras.backend.tape import Tensor, convert_to_tensor, make_op
from fastkeras.ops import math as _m

__all__ = [
    "bartlett",
    "blackman",
    "extract_sequences",
    "fft",
    "fft2",
    "hamming",
    "hanning",
    "ifft2",
    "irfft",
    "istft",
    "kaiser",
    "rfft",
    "stft",
]

NOT_SYMBOLIC = ("bartlett", "blackman", "hamming", "hanning", "kaiser")

GRAPH_SPECS = {
    "fft": ("math", "FFT", ()),
    "fft2": ("math", "FFT2", ()),
    "ifft2": ("math", "IFFT2", ()),
    "rfft": ("math", "RFFT", ("fft_length",)),
    "irfft": ("math", "IRFFT", ("fft_length",)),
    "stft": ("math", "STFT", ("sequence_length", "sequence_stride", "fft_length", "window",
                              "center")),
    "istft": ("math", "ISTFT", ("sequence_length", "sequence_stride", "fft_length", "length",
                                "window", "center")),
    "extract_sequences": ("math", "ExtractSequences", ("sequence_length", "sequence_stride")),
}


# --------------------------------------------------------------------------------------------
# complex pairs

def _pair(x, op):
    """(real, imag) Tensors of one float dtype and shape from Keras's complex pair."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{op}: `x` must be a tuple of two tensors, the real and imaginary "
                         f"parts. Received: x={x!r}")
    real, imag = convert_to_tensor(x[0]), convert_to_tensor(x[1])
    if real.shape != imag.shape:
        raise ValueError(f"{op}: the real and imaginary parts of `x` must have the same shape. "
                         f"Received: x[0].shape={tuple(real.shape)}, "
                         f"x[1].shape={tuple(imag.shape)}")
    if real.value.dtype.kind != "f" or imag.value.dtype.kind != "f":
        raise ValueError(f"{op}: both parts of `x` must be float tensors. Received dtypes: "
                         f"{real.value.dtype}, {imag.value.dtype}")
    dtype = np.result_type(real.value.dtype, imag.value.dtype)
    if real.value.dtype != dtype:
        real = _m.cast(real, dtype)
    if imag.value.dtype != dtype:
        imag = _m.cast(imag, dtype)
    return real, imag


def _complex_dtype(dtype):
    return np.complex128 if np.dtype(dtype) == np.float64 else np.complex64


def _split(z, dtype, parents, adjoint):
    """(real, imag) Tensors of complex array z = f(parents...), a real-linear function whose
    adjoint maps a complex cotangent G (dL/dRe + i dL/dIm) to one gradient per parent."""
    real = np.ascontiguousarray(z.real, dtype=dtype)
    imag = np.ascontiguousarray(z.imag, dtype=dtype)

    def part(scale):
        def backward(g, needs):
            grads = adjoint(np.asarray(g) * scale)
            return tuple(None if gr is None else np.asarray(gr, dtype=dtype) for gr in grads)
        return backward

    return (make_op(real, parents, part(1.0)), make_op(imag, parents, part(1j)))


def _complex_op(x, op, forward, adjoint):
    """forward(complex array) -> complex array, with adjoint(complex cotangent) -> complex
    gradient: the op on Keras's (real, imag) pairs, differentiable."""
    real, imag = _pair(x, op)
    dtype = real.value.dtype
    z = forward(real.value.astype(_complex_dtype(dtype)) + 1j * imag.value)

    def grads(gz):
        gx = adjoint(gz)
        return gx.real, gx.imag

    return _split(np.asarray(z).astype(_complex_dtype(dtype)), dtype, (real, imag), grads)


def fft(x):
    """The discrete Fourier transform of the last axis of the complex pair `x`
    ((real, imag)); returns a (real, imag) pair."""
    def adjoint(g):
        return np.fft.ifft(g, axis=-1) * g.shape[-1]
    return _complex_op(x, "fft", lambda z: np.fft.fft(z, axis=-1), adjoint)


def fft2(x):
    """The 2-D discrete Fourier transform of the last two axes of the complex pair `x`."""
    def adjoint(g):
        return np.fft.ifft2(g, axes=(-2, -1)) * (g.shape[-1] * g.shape[-2])
    return _complex_op(x, "fft2", lambda z: np.fft.fft2(z, axes=(-2, -1)), adjoint)


def ifft2(x):
    """The inverse 2-D discrete Fourier transform of the last two axes of the complex pair
    `x` (scaled by 1 / (height * width))."""
    def adjoint(g):
        return np.fft.fft2(g, axes=(-2, -1)) / (g.shape[-1] * g.shape[-2])
    return _complex_op(x, "ifft2", lambda z: np.fft.ifft2(z, axes=(-2, -1)), adjoint)


def _fft_length(fft_length, op):
    if fft_length is None:
        return None
    if isinstance(fft_length, bool) or not isinstance(fft_length, (int, np.integer)) or \
            fft_length < 1:
        raise ValueError(f"{op}: `fft_length` must be a positive integer or None. Received: "
                         f"fft_length={fft_length!r}")
    return int(fft_length)


def _real_input(x, op):
    x = convert_to_tensor(x)
    if x.value.dtype.kind != "f":
        x = _m.cast(x, _floatx())
    return x


def rfft(x, fft_length=None):
    """The Fourier transform of the real last axis of `x` (zero-padded or cut to
    `fft_length`): its fft_length // 2 + 1 non-negative frequencies, as a (real, imag)
    pair."""
    x = _real_input(x, "rfft")
    n = x.shape[-1] if fft_length is None else _fft_length(fft_length, "rfft")
    size = x.shape[-1]
    dtype = x.value.dtype
    z = np.fft.rfft(x.value, n=n, axis=-1).astype(_complex_dtype(dtype))

    def adjoint(g):
        full = np.zeros(g.shape[:-1] + (n,), g.dtype)
        full[..., :g.shape[-1]] = g
        gx = (np.fft.ifft(full, axis=-1) * n).real
        if n >= size:
            return (gx[..., :size],)
        out = np.zeros(g.shape[:-1] + (size,), gx.dtype)
        out[..., :n] = gx
        return (out,)

    return _split(z, dtype, (x,), adjoint)


def irfft(x, fft_length=None):
    """The inverse of `rfft`: the real signal of length `fft_length` (default
    2 * (bins - 1)) whose non-negative frequencies are the complex pair `x`."""
    real, imag = _pair(x, "irfft")
    dtype = real.value.dtype
    bins = real.shape[-1]
    n = 2 * (bins - 1) if fft_length is None else _fft_length(fft_length, "irfft")
    if n < 1:
        raise ValueError(f"irfft: the output length must be positive; give `fft_length` for "
                         f"inputs with {bins} frequency bin(s). Received: fft_length={fft_length}")
    z = real.value.astype(_complex_dtype(dtype)) + 1j * imag.value
    out = np.ascontiguousarray(np.fft.irfft(z, n=n, axis=-1), dtype=dtype)
    used = min(bins, n // 2 + 1)
    scale = np.full(used, 2.0 / n)
    scale[0] = 1.0 / n
    if n % 2 == 0 and used == n // 2 + 1:
        scale[-1] = 1.0 / n

    def backward(g, needs):
        spectrum = np.fft.rfft(np.asarray(g, np.float64), n=n, axis=-1)[..., :used] * scale
        gr = np.zeros(g.shape[:-1] + (bins,), dtype)
        gi = np.zeros(g.shape[:-1] + (bins,), dtype)
        gr[..., :used] = spectrum.real
        gi[..., :used] = spectrum.imag
        return gr, gi

    return make_op(out, (real, imag), backward)


# --------------------------------------------------------------------------------------------
# framing

def extract_sequences(x, sequence_length, sequence_stride):
    """The frames of the last axis of `x`: sequences of `sequence_length` samples every
    `sequence_stride` samples, shape (..., num_sequences, sequence_length)."""
    x = convert_to_tensor(x)
    for name, v in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"extract_sequences: `{name}` must be a positive integer. "
                             f"Received: {name}={v!r}")
    size = x.shape[-1]
    if size < sequence_length:
        raise ValueError(f"extract_sequences: the last axis of `x` ({size}) is shorter than "
                         f"sequence_length={sequence_length}")
    count = (size - sequence_length) // sequence_stride + 1
    index = np.arange(count)[:, None] * sequence_stride + np.arange(sequence_length)[None, :]
    out = np.ascontiguousarray(x.value[..., index])
    if x.value.dtype.kind != "f":
        return Tensor(out)

    def backward(g, needs):
        return (_overlap_add_values(np.asarray(g), sequence_stride, size),)

    return make_op(out, (x,), backward)


def _overlap_add_values(frames, stride, size=None):
    count, length = frames.shape[-2:]
    total = (count - 1) * stride + length
    out = np.zeros(frames.shape[:-2] + (max(total, size or 0),), frames.dtype)
    for i in range(count):
        out[..., i * stride:i * stride + length] += frames[..., i, :]
    return out if size is None else out[..., :size]


def _overlap_add(frames, stride):
    """Sums frames (..., count, length) placed every `stride` samples."""
    count, length = frames.shape[-2:]
    out = _overlap_add_values(frames.value, stride)
    index = np.arange(count)[:, None] * stride + np.arange(length)[None, :]
    return make_op(out, (frames,), lambda g, needs: (np.ascontiguousarray(g[..., index]),))


def _window(window, length, dtype, op):
    """The analysis window: 'hann' / 'hamming' (periodic), an array of `length`, or None."""
    if window is None:
        return None
    if isinstance(window, str):
        n = np.arange(length, dtype=np.float64)
        if window == "hann":
            win = 0.5 - 0.5 * np.cos(2 * np.pi * n / length)
        elif window == "hamming":
            win = 0.54 - 0.46 * np.cos(2 * np.pi * n / length)
        else:
            raise ValueError(f"{op}: a string `window` must be 'hann' or 'hamming'. Received: "
                             f"window={window!r}")
        return Tensor(win.astype(dtype))
    win = convert_to_tensor(window)
    if win.ndim != 1 or win.shape[0] != length:
        raise ValueError(f"{op}: `window` must have shape ({length},) (sequence_length). "
                         f"Received: window shape={tuple(win.shape)}")
    return _m.cast(win, dtype) if win.value.dtype != dtype else win


def _check_stft_args(sequence_length, sequence_stride, fft_length, op):
    for name, v in (("sequence_length", sequence_length), ("sequence_stride", sequence_stride),
                    ("fft_length", fft_length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{op}: `{name}` must be a positive integer. Received: "
                             f"{name}={v!r}")
    if fft_length < sequence_length:
        raise ValueError(f"{op}: `fft_length` must be at least `sequence_length`. Received: "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")


def stft(x, sequence_length, sequence_stride, fft_length, window="hann", center=True):
    """The short-time Fourier transform of the last axis of float `x`: frames of
    `fft_length` samples every `sequence_stride` samples (the signal reflect-padded by
    fft_length // 2 on both sides when `center`), each multiplied by the window (of
    `sequence_length` samples, zero-padded to fft_length in the middle) and transformed by
    `rfft`. Returns a (real, imag) pair of shape (..., frames, fft_length // 2 + 1)."""
    from fastkeras.ops.normalization import pad

    x = convert_to_tensor(x)
    if x.value.dtype not in (np.float32, np.float64):
        raise TypeError(f"stft: `x` must be float32 or float64. Received: x.dtype="
                        f"{x.value.dtype}")
    _check_stft_args(sequence_length, sequence_stride, fft_length, "stft")
    dtype = x.value.dtype
    win = _window(window, sequence_length, dtype, "stft")
    if win is None:
        win = Tensor(np.ones(sequence_length, dtype))
    left = (fft_length - sequence_length) // 2
    win = pad(win, [(left, fft_length - sequence_length - left)])
    if center:
        half = fft_length // 2
        if x.shape[-1] <= half:
            raise ValueError(f"stft: with center=True the signal must be longer than "
                             f"fft_length // 2 = {half}. Received: x.shape={tuple(x.shape)}")
        x = pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)], mode="reflect")
    frames = extract_sequences(x, fft_length, sequence_stride)
    return rfft(_m.multiply(frames, win), fft_length)


def istft(x, sequence_length, sequence_stride, fft_length, length=None, window="hann",
          center=True):
    """The inverse of `stft`: the frames' `irfft`, windowed and overlap-added, divided by
    the overlap-added squared window. Returns the real signal (cut or zero-padded to
    `length` when given)."""
    from fastkeras.ops.normalization import pad

    real, imag = _pair(x, "istft")
    _check_stft_args(sequence_length, sequence_stride, fft_length, "istft")
    dtype = real.value.dtype
    win = _window(window, sequence_length, dtype, "istft")
    frames = irfft((real, imag), fft_length)
    count = frames.shape[-2]
    expected = fft_length + sequence_stride * (count - 1)
    if sequence_length == fft_length and center and win is not None:
        # the exact envelope: the squared window summed over the frames covering each sample
        wv = np.asarray(win.value, np.float64)
        envelope = _overlap_add_values(np.broadcast_to(wv * wv, (count, fft_length)),
                                       sequence_stride)
        start = fft_length // 2
        end = expected - fft_length // 2 if length is None else start + length
        used = envelope[start:min(end, expected)]
        if np.any(np.abs(used) < 1e-11):
            raise ValueError("istft: the window's overlap-added square is zero somewhere "
                             "(the window/stride pair is not invertible)")
        y = _overlap_add(_m.multiply(frames, win), sequence_stride)
        y = y[..., start:min(end, expected)]
        y = _m.divide(y, Tensor(used.astype(dtype)))
        if end > expected:
            y = pad(y, [(0, 0)] * (y.ndim - 1) + [(0, end - expected)])
        return y
    if win is not None:
        left = (fft_length - sequence_length) // 2
        wv = np.pad(np.asarray(win.value, np.float64), (left, fft_length - sequence_length - left))
        overlaps = -(-fft_length // sequence_stride)
        denom = np.pad(wv * wv, (0, overlaps * sequence_stride - fft_length))
        denom = denom.reshape(overlaps, sequence_stride).sum(axis=0)
        denom = np.tile(denom, overlaps)[:fft_length]
        win = _m.divide(pad(win, [(left, fft_length - sequence_length - left)]),
                        Tensor(denom.astype(dtype)))
        frames = _m.multiply(frames, win)
    y = _overlap_add(frames, sequence_stride)
    start = 0 if not center else fft_length // 2
    if length is not None:
        end = start + length
    elif center:
        end = y.shape[-1] - fft_length // 2
    else:
        end = expected
    return y[..., start:end]


# --------------------------------------------------------------------------------------------
# windows

def _window_size(x, op):
    v = np.asarray(x.value if isinstance(x, Tensor) else x)
    if v.ndim != 0 or v.dtype.kind not in "iu":
        raise ValueError(f"{op}: `x` must be a non-negative integer (the window length). "
                         f"Received: x={x!r}")
    if int(v) < 0:
        raise ValueError(f"{op}: `x` must be a non-negative integer (the window length). "
                         f"Received: x={int(v)}")
    return int(v)


def _window_tensor(values):
    return Tensor(np.asarray(values, np.float64).astype(_floatx()))


def hamming(x):
    """The Hamming window of `x` points (symmetric): 0.54 - 0.46 cos(2 pi n / (x - 1))."""
    return _window_tensor(np.hamming(_window_size(x, "hamming")))


def hanning(x):
    """The Hann window of `x` points (symmetric): 0.5 - 0.5 cos(2 pi n / (x - 1))."""
    return _window_tensor(np.hanning(_window_size(x, "hanning")))


def blackman(x):
    """The Blackman window of `x` points (symmetric)."""
    return _window_tensor(np.blackman(_window_size(x, "blackman")))


def bartlett(x):
    """The Bartlett (triangular) window of `x` points (symmetric)."""
    return _window_tensor(np.bartlett(_window_size(x, "bartlett")))


def kaiser(x, beta):
    """The Kaiser window of `x` points with shape parameter `beta`."""
    return _window_tensor(np.kaiser(_window_size(x, "kaiser"), float(beta)))
