"""Audio spectrogram layers: `MelSpectrogram` (a preprocessing layer: STFT power, mel filter
bank, decibels) and `STFTSpectrogram` (an STFT computed with trainable cosine/sine kernels,
with magnitude, log, PSD, phase or raw outputs), following Keras 3's definitions."""

from __future__ import annotations

import math
import warnings

import numpy as np

from fastkeras import ops
from fastkeras.backend.config import epsilon
from fastkeras.backend.tape import Tensor, convert_to_tensor
from fastkeras.layers.input_spec import InputSpec
from fastkeras.layers.layer import Layer
from fastkeras.layers.reshaping import standardize_data_format
from fastkeras.ops import fft as fft_ops

__all__ = ["MelSpectrogram", "STFTSpectrogram"]

_MEL_BREAK_FREQUENCY_HERTZ = 700.0
_MEL_HIGH_FREQUENCY_Q = 1127.0
_STFT_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")


# --- window functions (the names and definitions of scipy.signal.get_window) ----------------

def _general_cosine(length, coefficients):
    fac = np.linspace(-np.pi, np.pi, length)
    w = np.zeros(length)
    for k, a in enumerate(coefficients):
        w += a * np.cos(k * fac)
    return w


def _bartlett(m):
    n = np.arange(m)
    return np.where(n <= (m - 1) / 2.0, 2.0 * n / (m - 1), 2.0 - 2.0 * n / (m - 1))


def _triang(m):
    n = np.arange(1, (m + 1) // 2 + 1)
    if m % 2 == 0:
        w = (2 * n - 1.0) / m
        return np.r_[w, w[::-1]]
    w = 2 * n / (m + 1.0)
    return np.r_[w, w[-2::-1]]


def _bohman(m):
    fac = np.abs(np.linspace(-1, 1, m)[1:-1])
    w = (1 - fac) * np.cos(np.pi * fac) + 1.0 / np.pi * np.sin(np.pi * fac)
    return np.r_[0, w, 0]


def _parzen(m):
    n = np.arange(-(m - 1) / 2.0, (m - 1) / 2.0 + 0.5, 1.0)
    na = np.extract(n < -(m - 1) / 4.0, n)
    nb = np.extract(np.abs(n) <= (m - 1) / 4.0, n)
    wa = 2 * (1 - np.abs(na) / (m / 2.0)) ** 3.0
    wb = (1 - 6 * (np.abs(nb) / (m / 2.0)) ** 2.0 + 6 * (np.abs(nb) / (m / 2.0)) ** 3.0)
    return np.r_[wa, wb, wa[::-1]]


def _barthann(m):
    n = np.arange(0, m)
    fac = np.abs(n / (m - 1.0) - 0.5)
    return 0.62 - 0.48 * fac + 0.38 * np.cos(2 * np.pi * fac)


def _tukey(m, alpha=0.5):
    n = np.arange(0, m)
    width = int(np.floor(alpha * (m - 1) / 2.0))
    n1, n2, n3 = n[0:width + 1], n[width + 1:m - width - 1], n[m - width - 1:]
    w1 = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * n1 / alpha / (m - 1))))
    w2 = np.ones(n2.shape)
    w3 = 0.5 * (1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * n3 / alpha / (m - 1))))
    return np.concatenate((w1, w2, w3))


_WINDOWS = {
    "hann": lambda m: _general_cosine(m, (0.5, 0.5)),
    "hamming": lambda m: _general_cosine(m, (0.54, 0.46)),
    "blackman": lambda m: _general_cosine(m, (0.42, 0.50, 0.08)),
    "blackmanharris": lambda m: _general_cosine(m, (0.35875, 0.48829, 0.14128, 0.01168)),
    "nuttall": lambda m: _general_cosine(m, (0.3635819, 0.4891775, 0.1365995, 0.0106411)),
    "flattop": lambda m: _general_cosine(m, (0.21557895, 0.41663158, 0.277263158,
                                             0.083578947, 0.006947368)),
    "bartlett": _bartlett,
    "triang": _triang,
    "boxcar": np.ones,
    "cosine": lambda m: np.sin(np.pi / m * (np.arange(m) + 0.5)),
    "bohman": _bohman,
    "parzen": _parzen,
    "barthann": _barthann,
    "tukey": _tukey,
}
_WINDOW_ALIASES = {
    "hanning": "hann", "han": "hann", "hamm": "hamming", "ham": "hamming",
    "black": "blackman", "blk": "blackman", "blackharr": "blackmanharris",
    "bkh": "blackmanharris", "nutl": "nuttall", "nut": "nuttall", "flat": "flattop",
    "flt": "flattop", "bart": "bartlett", "brt": "bartlett", "triangle": "triang",
    "tri": "triang", "box": "boxcar", "ones": "boxcar", "rect": "boxcar",
    "rectangular": "boxcar", "halfcosine": "cosine", "parz": "parzen", "par": "parzen",
    "brthan": "barthann", "bth": "barthann", "tuk": "tukey",
}


def _window_values(name, length, periodic):
    """scipy.signal.get_window(name, length, fftbins=periodic) as float64."""
    key = _WINDOW_ALIASES.get(name, name)
    fn = _WINDOWS.get(key)
    if fn is None:
        try:
            from scipy import signal
        except ImportError:
            raise ValueError(f"Unknown window type: window={name!r}. Supported windows: "
                             f"{sorted(_WINDOWS)} (others need scipy).") from None
        return np.asarray(signal.get_window(name, length, periodic), np.float64)
    if length <= 1:
        return np.ones(max(length, 0))
    if periodic:  # the symmetric window one sample longer, without its last sample
        return np.asarray(fn(length + 1), np.float64)[:-1]
    return np.asarray(fn(length), np.float64)


def _check_window_name(window):
    if isinstance(window, str):
        _window_values(window, 1, False)


def stft_kernel(side, shape, window, scaling, periodic):
    """The (frame_length, 1, bins) float32 kernel that gives the real ("real") or imaginary
    ("imag") part of each frame's DFT (for fft_length = 2 * (bins - 1)), multiplied by the
    window and divided by its L2 norm ("density") or L1 norm ("spectrum")."""
    frame_length, _, bins = shape
    f32 = np.float32
    win = None
    scale = f32(1)
    if window is not None:
        if isinstance(window, str):
            win = _window_values(window, frame_length, periodic)
        else:
            win = convert_to_tensor(window).value if not isinstance(window, np.ndarray) \
                else window
        win = np.asarray(win, f32)
        if win.ndim != 1 or win.shape[-1] != frame_length:
            raise ValueError("The shape of `window` must be equal to [frame_length]. "
                             f"Received: window shape={win.shape}")
        win = win.reshape(frame_length, 1, 1)
        if scaling == "density":
            scale = np.sqrt(np.sum(np.square(win), dtype=f32), dtype=f32)
        elif scaling == "spectrum":
            scale = np.sum(np.abs(win), dtype=f32)
    full = f32((bins - 1) * 2)
    freq = np.arange(bins, dtype=f32).reshape(1, 1, bins) / full
    time = np.arange(frame_length, dtype=f32).reshape(frame_length, 1, 1)
    args = ((f32(-2) * time) * freq) * f32(np.pi)
    kernel = np.cos(args) if side == "real" else np.sin(args)
    if win is not None:
        kernel = (kernel * win) / scale
    return kernel.astype(f32)


def _probe_length(length, need, stride):
    """For the zero probes that infer a free time axis's symbolic size: a length that both
    probes can run on and that maps the two probe sizes to different output lengths."""
    from fastkeras.layers.input_layer import _PROBE_SIZES, inferring_shapes
    if not inferring_shapes() or length not in _PROBE_SIZES or length >= need:
        return None
    gap = _PROBE_SIZES[1] - _PROBE_SIZES[0]
    factor = max(-(-need // _PROBE_SIZES[0]), -(-2 * stride // gap) + 1)
    return length * factor


def _positive_int(value, arg, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: `{arg}` must be a positive integer. "
                         f"Received: {arg}={value!r}")
    return int(value)


# --- MelSpectrogram -------------------------------------------------------------------------

class MelSpectrogram(Layer):
    """Raw audio to a mel spectrogram: the STFT's magnitude raised to `mag_exp` (frames of
    `fft_length` samples every `sequence_stride` samples, centred, reflect-padded, windowed
    by `window` over `sequence_length` samples), projected on `num_mel_bins` triangular
    filters evenly spaced on the HTK mel scale between `min_freq` and `max_freq`, and with
    `power_to_db` converted to decibels relative to `ref_power` (values under `min_power`
    clipped) and floored at the maximum minus `top_db` (the maximum over the whole input).

    Input: `(samples,)` or `(batch, samples)` float audio. Output:
    `(num_mel_bins, frames)` or `(batch, num_mel_bins, frames)` with
    `frames = 1 + samples // sequence_stride`.

    Args:
        fft_length: FFT size of each frame.
        sequence_stride: samples between consecutive frames.
        sequence_length: window length (defaults to `fft_length`).
        window: "hann", "hamming" (periodic), an array of `sequence_length` values or None.
        sampling_rate: the audio's sampling rate in Hz.
        num_mel_bins: number of mel filters.
        min_freq: lower edge of the lowest filter in Hz.
        max_freq: upper edge of the highest filter in Hz (defaults to
            `sampling_rate / 2`).
        power_to_db: convert to decibels.
        top_db: dynamic range kept below the maximum, in dB.
        mag_exp: exponent of the magnitude (1: magnitude, 2: power).
        min_power: floor of the power (and of `ref_power`) before the logarithm.
        ref_power: reference power of 0 dB.
    """

    def __init__(self, fft_length=2048, sequence_stride=512, sequence_length=None,
                 window="hann", sampling_rate=16000, num_mel_bins=128, min_freq=20.0,
                 max_freq=None, power_to_db=True, top_db=80.0, mag_exp=2.0, min_power=1e-10,
                 ref_power=1.0, **kwargs):
        self.fft_length = _positive_int(fft_length, "fft_length", "MelSpectrogram")
        self.sequence_stride = _positive_int(sequence_stride, "sequence_stride",
                                             "MelSpectrogram")
        self.sequence_length = _positive_int(sequence_length or fft_length, "sequence_length",
                                             "MelSpectrogram")
        if self.fft_length < self.sequence_length:
            raise ValueError("MelSpectrogram: `fft_length` must be greater than or equal to "
                             f"`sequence_length`. Received: sequence_length="
                             f"{self.sequence_length}, fft_length={self.fft_length}")
        if isinstance(window, str) and window not in ("hann", "hamming"):
            raise ValueError('MelSpectrogram: a string `window` must be "hann" or "hamming". '
                             f"Received: window={window!r}")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = _positive_int(num_mel_bins, "num_mel_bins", "MelSpectrogram")
        self.min_freq = min_freq
        self.max_freq = max_freq or int(sampling_rate / 2)
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        super().__init__(**kwargs)

    def call(self, inputs):
        dtype = self.compute_dtype if self.compute_dtype in ("float32", "float64") \
            else "float32"
        x = convert_to_tensor(inputs)
        if x.value.dtype != np.dtype(dtype):
            x = ops.cast(x, dtype)
        probe = _probe_length(x.shape[-1], self.fft_length // 2 + 1, self.sequence_stride)
        if probe is not None:
            x = Tensor(np.zeros(tuple(x.shape[:-1]) + (probe,), dtype))
        real, imag = fft_ops.stft(x, self.sequence_length, self.sequence_stride,
                                  self.fft_length, window=self.window, center=True)
        spec = ops.power(ops.sqrt(ops.add(ops.square(real), ops.square(imag))), self.mag_exp)
        matrix = self.linear_to_mel_weight_matrix(
            num_mel_bins=self.num_mel_bins, num_spectrogram_bins=spec.shape[-1],
            sampling_rate=self.sampling_rate, lower_edge_hertz=self.min_freq,
            upper_edge_hertz=self.max_freq, dtype=dtype)
        out = ops.tensordot(spec, Tensor(matrix), axes=1)
        if self.power_to_db:
            out = self._dbscale(out, dtype)
        out = ops.swapaxes(out, -1, -2)
        if out.value.dtype != np.dtype(self.compute_dtype):
            out = ops.cast(out, self.compute_dtype)
        return out

    def _dbscale(self, power, dtype):
        log_spec = ops.multiply(10.0, ops.log10(ops.maximum(power, self.min_power)))
        ref = np.abs(np.asarray(self.ref_power, dtype))
        ref_db = np.asarray(10.0, dtype) * np.log10(np.maximum(ref, np.asarray(self.min_power,
                                                                               dtype)))
        log_spec = ops.subtract(log_spec, Tensor(np.asarray(ref_db, dtype)))
        if self.top_db is None:
            return log_spec
        floor = ops.subtract(ops.max(log_spec), self.top_db)
        return ops.maximum(log_spec, floor)

    @staticmethod
    def _hertz_to_mel(frequencies_hertz):
        return _MEL_HIGH_FREQUENCY_Q * np.log(1.0 + frequencies_hertz / _MEL_BREAK_FREQUENCY_HERTZ)

    def linear_to_mel_weight_matrix(self, num_mel_bins=20, num_spectrogram_bins=129,
                                    sampling_rate=8000, lower_edge_hertz=125.0,
                                    upper_edge_hertz=3800.0, dtype="float32"):
        """The `(num_spectrogram_bins, num_mel_bins)` numpy matrix that maps a linear
        spectrogram's bins (0 to `sampling_rate / 2`) to triangular mel filters of peak 1
        between `lower_edge_hertz` and `upper_edge_hertz` (HTK mel scale,
        `mel = 1127 * ln(1 + f / 700)`; the DC bin gets no weight)."""
        dt = np.dtype(dtype).type
        nyquist = dt(sampling_rate) / dt(2.0)
        linear = np.linspace(dt(0), nyquist, num_spectrogram_bins, dtype=dt)[1:]
        bins_mel = self._hertz_to_mel(linear).astype(dt)[:, None]
        low = self._hertz_to_mel(np.asarray(lower_edge_hertz, dt)).astype(dt)
        high = self._hertz_to_mel(np.asarray(upper_edge_hertz, dt)).astype(dt)
        edges = np.linspace(low, high, num_mel_bins + 2, dtype=dt)
        lower, center, upper = (edges[i:i + num_mel_bins][None, :] for i in range(3))
        lower_slopes = (bins_mel - lower) / (center - lower)
        upper_slopes = (upper - bins_mel) / (upper - center)
        weights = np.maximum(dt(0), np.minimum(lower_slopes, upper_slopes))
        return np.pad(weights, [[1, 0], [0, 0]]).astype(dt)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        length = input_shape[-1]
        frames = None if length is None else 1 + length // self.sequence_stride
        return input_shape[:-1] + (self.num_mel_bins, frames)

    def get_config(self):
        config = super().get_config()
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        config.update({"fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                       "sequence_length": self.sequence_length, "window": window,
                       "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins,
                       "min_freq": self.min_freq, "max_freq": self.max_freq,
                       "power_to_db": self.power_to_db, "top_db": self.top_db,
                       "mag_exp": self.mag_exp, "min_power": self.min_power,
                       "ref_power": self.ref_power})
        return config


# --- STFTSpectrogram ------------------------------------------------------------------------

class STFTSpectrogram(Layer):
    """The short-time Fourier transform of each channel of a `(batch, time, channels)` signal
    (`(batch, channels, time)` with channels_first), computed as a strided convolution with
    two kernels `real_kernel` and `imag_kernel` of shape `(frame_length, 1,
    fft_length // 2 + 1)`: the DFT's cosine and sine rows times the window, divided by the
    window's L2 norm ("density") or L1 norm ("spectrum"). The kernels are weights (trainable
    unless `trainable=False`), so the transform can be fine-tuned.

    Outputs per `mode`: "real" / "imag" (one kernel only), "angle" (phase), "stft" (real
    bins then imaginary bins), "psd" (power, doubled except at the first and last bin),
    "magnitude" (`sqrt(max(power, epsilon))`) and "log" (its natural log, floored at
    epsilon).

    Output shape (`bins = fft_length // 2 + 1`, twice that for "stft"):
    `(batch, frames, channels * bins)` (channels_last), `(batch, channels * bins, frames)`
    (channels_first), or with `expand_dims` `(batch, frames, bins, channels)` /
    `(batch, channels, frames, bins)`. `frames` is `(time - frame_length) // frame_step + 1`
    with "valid" padding and `ceil(time / frame_step)` with "same".

    Args:
        mode: one of "log", "magnitude", "psd", "real", "imag", "angle", "stft".
        frame_length: samples per frame.
        frame_step: samples between frames (defaults to `frame_length // 2`).
        fft_length: DFT size (defaults to the smallest power of two >= frame_length).
        window: a window name ("hann", "hamming", "blackman", "bartlett", "boxcar", ... as
            scipy names them), an array of `frame_length` values, or None.
        periodic: use the periodic form of a named window (else the symmetric one).
        scaling: "density", "spectrum" or None.
        padding: "valid" or "same".
        expand_dims: keep frequency and channels as separate axes (an image-like output).
        data_format: "channels_last" or "channels_first" (default: the global setting).
    """

    def __init__(self, mode="log", frame_length=256, frame_step=None, fft_length=None,
                 window="hann", periodic=False, scaling="density", padding="valid",
                 expand_dims=False, data_format=None, **kwargs):
        frame_length = _positive_int(frame_length, "frame_length", "STFTSpectrogram")
        if frame_step is not None and (isinstance(frame_step, bool)
                                       or not isinstance(frame_step, (int, np.integer))
                                       or frame_step > frame_length or frame_step < 1):
            raise ValueError("STFTSpectrogram: `frame_step` must be a positive integer not "
                             f"greater than `frame_length`. Received: frame_step={frame_step!r}"
                             f", frame_length={frame_length}")
        if fft_length is not None:
            fft_length = _positive_int(fft_length, "fft_length", "STFTSpectrogram")
            if fft_length < frame_length:
                raise ValueError("STFTSpectrogram: `fft_length` must be at least "
                                 f"`frame_length`. Received: fft_length={fft_length}, "
                                 f"frame_length={frame_length}")
            if fft_length & (fft_length - 1):
                warnings.warn("`fft_length` is recommended to be a power of two. "
                              f"Received fft_length={fft_length}", stacklevel=2)
        if mode not in _STFT_MODES:
            raise ValueError(f"STFTSpectrogram: `mode` must be one of {', '.join(_STFT_MODES)}. "
                             f"Received: mode={mode!r}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError('STFTSpectrogram: `scaling` must be None, "density" or '
                             f'"spectrum". Received: scaling={scaling!r}')
        if padding not in ("valid", "same"):
            raise ValueError('STFTSpectrogram: `padding` must be "valid" or "same". '
                             f"Received: padding={padding!r}")
        _check_window_name(window)
        super().__init__(**kwargs)
        self.mode = mode
        self.frame_length = frame_length
        self.frame_step = frame_step
        self._frame_step = int(frame_step or frame_length // 2)
        self.fft_length = fft_length
        self._fft_length = fft_length or 2 ** math.ceil(math.log2(frame_length))
        self.window = window
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=3)

    def build(self, input_shape):
        shape = (self.frame_length, 1, self._fft_length // 2 + 1)
        for side in ("real", "imag"):
            if self.mode == ("imag" if side == "real" else "real"):
                continue
            setattr(self, f"{side}_kernel", self.add_weight(
                name=f"{side}_kernel", shape=shape,
                initializer=lambda shape, dtype=None, side=side: stft_kernel(
                    side, shape, self.window, self.scaling, self.periodic)))
        self.built = True

    def _frames(self, signal, kernel):
        """(batch * channels, frames, bins) products of the frames of `signal`
        ((batch * channels, time)) with `kernel`."""
        bins = kernel.shape[-1]
        weights = ops.reshape(kernel, (self.frame_length, bins))
        if weights.value.dtype != signal.value.dtype:
            weights = ops.cast(weights, signal.value.dtype)
        return ops.matmul(signal, weights)

    def _arrange(self, x, batch, channels):
        """(batch * channels, frames, bins) to the layer's output layout."""
        frames, bins = x.shape[1], x.shape[2]
        x = ops.reshape(x, (batch, channels, frames, bins))
        if self.data_format == "channels_last":
            if self.expand_dims:
                return ops.transpose(x, (0, 2, 3, 1))
            x = ops.transpose(x, (0, 2, 1, 3))
            return ops.reshape(x, (batch, frames, channels * bins))
        if self.expand_dims:
            return x
        x = ops.transpose(x, (0, 1, 3, 2))
        return ops.reshape(x, (batch, channels * bins, frames))

    def call(self, inputs):
        x = convert_to_tensor(inputs)
        if x.value.dtype.kind != "f":
            raise TypeError("STFTSpectrogram: expected float16, float32 or float64 inputs. "
                            f"Received: input type={x.value.dtype}")
        if x.value.dtype != np.dtype(self.compute_dtype):
            x = ops.cast(x, self.compute_dtype)
        if self.data_format == "channels_last":
            x = ops.transpose(x, (0, 2, 1))
        batch, channels, length = x.shape
        need = self.frame_length if self.padding == "valid" else 1
        probe = _probe_length(length, need, self._frame_step)
        if probe is not None:
            x = Tensor(np.zeros((batch, channels, probe), x.value.dtype))
            length = probe
        signal = ops.reshape(x, (batch * channels, length))
        if self.padding == "same":
            from fastkeras.ops.conv2d import same_padding
            signal = ops.pad(signal, ((0, 0), same_padding(length, self.frame_length,
                                                           self._frame_step, 1)))
        if signal.shape[-1] < self.frame_length:
            raise ValueError(f"Layer '{self.name}': the input's time axis ({length}) is shorter "
                             f"than frame_length={self.frame_length} (padding='valid')")
        frames = fft_ops.extract_sequences(signal, self.frame_length, self._frame_step)
        real = self._frames(frames, self.real_kernel) if self.mode != "imag" else None
        imag = self._frames(frames, self.imag_kernel) if self.mode != "real" else None
        if self.mode == "real":
            out = real
        elif self.mode == "imag":
            out = imag
        elif self.mode == "angle":
            out = ops.arctan2(imag, real)
        elif self.mode == "stft":
            out = ops.concatenate([real, imag], axis=-1)
        else:
            power = ops.add(ops.square(real), ops.square(imag))
            if self.mode == "psd":
                inner = ops.pad(power[:, :, 1:-1], ((0, 0), (0, 0), (1, 1)))
                out = ops.add(power, inner)
            else:
                out = ops.sqrt(ops.maximum(power, epsilon()))
                if self.mode == "log":
                    out = ops.log(ops.maximum(out, epsilon()))
        return self._arrange(out, batch, channels)

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if self.data_format == "channels_last":
            length, channels = input_shape[1], input_shape[2]
        else:
            channels, length = input_shape[1], input_shape[2]
        bins = self._fft_length // 2 + 1
        if self.mode == "stft":
            bins *= 2
        if length is None:
            frames = None
        elif self.padding == "same":
            frames = -(-length // self._frame_step)
        else:
            frames = (length - self.frame_length) // self._frame_step + 1
        if self.expand_dims:
            if self.data_format == "channels_last":
                return (batch, frames, bins, channels)
            return (batch, channels, frames, bins)
        features = None if channels is None else channels * bins
        if self.data_format == "channels_last":
            return (batch, frames, features)
        return (batch, features, frames)

    def get_config(self):
        config = super().get_config()
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        config.update({"mode": self.mode, "frame_length": self.frame_length,
                       "frame_step": self.frame_step, "fft_length": self.fft_length,
                       "window": window, "periodic": self.periodic, "scaling": self.scaling,
                       "padding": self.padding, "data_format": self.data_format,
                       "expand_dims": self.expand_dims})
        return config
