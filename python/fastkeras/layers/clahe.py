"""ContrastLimitedAdaptiveHistogramEqualization (CLAHE), the Keras 3 image layer.

Each image (every channel on its own) is cut into a grid of tiles; a 256-bin histogram of
each tile is clipped at `clip_limit` times the mean bin count, the clipped excess spread
evenly over the bins, and the cumulative histogram rescaled to [0, 255] gives that tile's
intensity mapping. A pixel's output is the bilinear blend of the mappings of the four tile
centres around it (tiles past the border repeat the edge ones). Images whose size the grid
does not divide are first extended by repeating their last row/column, and cropped back.

The arithmetic is done in float32 in the same order as Keras, so outputs agree with it to
rounding. It is a preprocessing step: no gradient is recorded.
"""

from __future__ import annotations

import numpy as np

from fastkeras.backend.tape import Tensor
from fastkeras.layers.image_preprocessing import _ImageLayer

_F32 = np.float32


def _rescale(values, source, target):
    """Maps values linearly from the range `source` to `target` (float32, as Keras's
    `_transform_value_range`); identical ranges leave the values (and dtype) alone."""
    if source[0] == target[0] and source[1] == target[1]:
        return values
    values = values.astype(_F32)
    low, high = _F32(source[0]), _F32(source[1])
    new_low, new_high = _F32(target[0]), _F32(target[1])
    unit = (values - low) / (high - low)
    return unit * (new_high - new_low) + new_low


def _tile_mappings(tiles, clip_limit, tile_pixels):
    """tiles: int (..., tile_pixels) pixel values in [0, 255]. Returns the (..., 256) float32
    lookup table of each tile."""
    lead = tiles.shape[:-1]
    flat = tiles.reshape(-1, tile_pixels)
    rows = np.repeat(np.arange(flat.shape[0]), tile_pixels)
    counts = np.zeros((flat.shape[0], 256), np.int64)
    np.add.at(counts, (rows, flat.reshape(-1)), 1)
    hists = counts.reshape(lead + (256,))
    if clip_limit > 0:
        # Keras (PyTorch backend) counts in int64, so the limit is truncated to an integer
        limit = int(clip_limit * tile_pixels / 256.0)
        clipped = np.clip(hists, 0, limit)
        excess = np.sum(hists - clipped, axis=-1, keepdims=True)
        hists = clipped.astype(_F32) + (excess / 256.0).astype(_F32)
    hists = hists.astype(_F32)
    cdf = np.cumsum(hists, axis=-1, dtype=_F32)
    cdf_min = np.min(cdf, axis=-1, keepdims=True)
    numerator = (cdf - cdf_min) * _F32(255.0)
    denominator = _F32(tile_pixels) - cdf_min
    denominator = np.where(denominator == 0, _F32(1), denominator)
    return np.clip(numerator / denominator, _F32(0), _F32(255))


def _axis_weights(size, tile, grid):
    """For each padded pixel row (or column): the indices of the two neighbouring tile
    centres in the edge-extended grid of grid + 2 tiles, and the weight of the second."""
    position = (np.arange(size, dtype=_F32) - _F32(tile / 2.0)) / _F32(tile) + _F32(1.0)
    first = np.floor(position)
    weight = position - first
    low = np.clip(first, 0, grid + 1).astype(np.int64)
    high = np.clip(first + _F32(1.0), 0, grid + 1).astype(np.int64)
    return low, high, weight


def clahe(images, clip_limit, tile_grid_size):
    """CLAHE of channels_last images (batch, height, width, channels) whose values are on
    the [0, 255] scale. Returns float32 images of the same shape."""
    batch, height, width, channels = images.shape
    grid_h, grid_w = (int(v) for v in tile_grid_size)
    tile_h = -(-height // grid_h)
    tile_w = -(-width // grid_w)
    pad_h, pad_w = tile_h * grid_h - height, tile_w * grid_w - width
    if pad_h or pad_w:
        # Keras asks for "symmetric" padding, which its PyTorch backend performs as
        # "replicate": the last row/column is repeated
        images = np.pad(images, [(0, 0), (0, pad_h), (0, pad_w), (0, 0)], mode="edge")
    # float -> int32 truncates toward zero (as a cast does), then clamps to the 256 bins
    if images.dtype.kind == "f":
        pixels = np.clip(np.trunc(images), -2.0 ** 31, 2.0 ** 31 - 1).astype(np.int64)
    else:
        pixels = images.astype(np.int64)
    pixels = np.clip(pixels, 0, 255)

    tiles = pixels.reshape(batch, grid_h, tile_h, grid_w, tile_w, channels)
    tiles = tiles.transpose(0, 1, 3, 5, 2, 4).reshape(batch, grid_h, grid_w, channels,
                                                      tile_h * tile_w)
    maps = _tile_mappings(tiles, clip_limit, tile_h * tile_w)
    # repeat the border tiles so every pixel has four neighbouring tile centres
    maps = np.pad(maps, [(0, 0), (1, 1), (1, 1), (0, 0), (0, 0)], mode="edge")

    y0, y1, wy = _axis_weights(tile_h * grid_h, tile_h, grid_h)
    x0, x1, wx = _axis_weights(tile_w * grid_w, tile_w, grid_w)
    b = np.arange(batch)[:, None, None, None]
    c = np.arange(channels)[None, None, None, :]
    y0, y1, wy = y0[None, :, None, None], y1[None, :, None, None], wy[None, :, None, None]
    x0, x1, wx = x0[None, None, :, None], x1[None, None, :, None], wx[None, None, :, None]
    north_west = maps[b, y0, x0, c, pixels]
    north_east = maps[b, y0, x1, c, pixels]
    south_west = maps[b, y1, x0, c, pixels]
    south_east = maps[b, y1, x1, c, pixels]
    one = _F32(1.0)
    top = north_west * (one - wx) + north_east * wx
    bottom = south_west * (one - wx) + south_east * wx
    result = top * (one - wy) + bottom * wy
    return result[:, :height, :width, :]


def _cast_back(values, dtype):
    """float32 values to `dtype` as a tensor cast does (truncation toward zero for ints)."""
    if dtype.kind == "f":
        return values.astype(dtype)
    if dtype.kind == "b":
        return values != 0
    return np.trunc(values).astype(dtype)


class ContrastLimitedAdaptiveHistogramEqualization(_ImageLayer):
    """Contrast Limited Adaptive Histogram Equalization.

    Args:
        value_range: the (low, high) range of the input values; they are mapped to
            [0, 255] for the equalisation and back. Defaults to (0, 255).
        clip_limit: bins of a tile's histogram are clipped at this multiple of the mean
            bin count (limiting noise amplification in flat regions); 0 or less disables
            clipping. Defaults to 4.0.
        tile_grid_size: (rows, columns) of tiles the image is divided into. Defaults to
            (8, 8).
        data_format: "channels_last" (default) or "channels_first".

    Takes one image (rank 3) or a batch (rank 4); applied in training and inference alike.
    The output has the input's shape and dtype (floating inputs in the layer's dtype;
    integer outputs truncated, as a cast does).
    """

    def __init__(self, value_range=(0, 255), clip_limit=4.0, tile_grid_size=(8, 8),
                 data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.value_range = value_range
        self.clip_limit = clip_limit
        self.tile_grid_size = tile_grid_size

    def call(self, inputs, training=True):
        x = self._image(inputs)
        values = np.asarray(x.value)
        dtype = values.dtype
        unbatched = values.ndim == 3
        if unbatched:
            values = values[None]
        if self.data_format == "channels_first":
            values = values.transpose(0, 2, 3, 1)
        scaled = _rescale(values, self.value_range, (0, 255))
        result = clahe(scaled, self.clip_limit, self.tile_grid_size)
        result = _rescale(result, (0, 255), self.value_range)
        if self.data_format == "channels_first":
            result = result.transpose(0, 3, 1, 2)
        if unbatched:
            result = result[0]
        return Tensor(np.ascontiguousarray(_cast_back(result, dtype)))

    def get_config(self):
        config = super().get_config()
        config.update({"value_range": self.value_range, "clip_limit": self.clip_limit,
                       "tile_grid_size": self.tile_grid_size})
        return config
