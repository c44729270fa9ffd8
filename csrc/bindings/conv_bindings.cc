// Bindings for the direct depthwise convolution on NHWC float32 arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/conv/conv.h"

namespace fastkeras::bindings {
namespace {

using Pair = std::array<int64_t, 2>;

std::string pair_text(const Pair& p) {
  return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")";
}

// The geometry of a depthwise convolution of x (n, h, w, c) by w (kh, kw, c, m) into an output
// of spatial size (oh, ow), checked: the output size must be what strides/pads/dilation give
// for some bottom/right padding in [0, span) (TF's 'same' adds at most span - 1 cells).
Conv2DShape depthwise_shape(const FloatArray& x, const FloatArray& w, int64_t oh, int64_t ow,
                            Pair strides, Pair pads, Pair dilation, const char* fn) {
  const std::string f(fn);
  if (strides[0] < 1 || strides[1] < 1) {
    throw py::value_error(f + ": `strides` must be positive, received " + pair_text(strides));
  }
  if (dilation[0] < 1 || dilation[1] < 1) {
    throw py::value_error(f + ": `dilation` must be positive, received " + pair_text(dilation));
  }
  if (pads[0] < 0 || pads[1] < 0) {
    throw py::value_error(f + ": `pads` must be non-negative, received " + pair_text(pads));
  }
  if (w.shape[2] != x.shape[3]) {
    throw py::value_error(f + ": kernel " + shape_text(w.shape) + " expects " +
                          std::to_string(w.shape[2]) + " input channels, input " +
                          shape_text(x.shape) + " has " + std::to_string(x.shape[3]));
  }
  Conv2DShape s;
  s.n = x.shape[0], s.h = x.shape[1], s.w = x.shape[2], s.c = x.shape[3];
  s.kh = w.shape[0], s.kw = w.shape[1], s.f = w.shape[2] * w.shape[3];
  s.stride_h = strides[0], s.stride_w = strides[1];
  s.dil_h = dilation[0], s.dil_w = dilation[1];
  s.pad_top = pads[0], s.pad_left = pads[1];
  s.oh = oh, s.ow = ow;
  // Every output window must start inside the top/left-padded input: the last one at
  // (o - 1) * stride - pad <= in - 1 (cells past the bottom/right are treated as padding).
  auto fits = [](int64_t o, int64_t in, int64_t stride, int64_t pad) {
    return o >= 0 && (o == 0 || (o - 1) * stride - pad <= in - 1);
  };
  if (!fits(oh, s.h, s.stride_h, s.pad_top) || !fits(ow, s.w, s.stride_w, s.pad_left)) {
    throw py::value_error(f + ": output size (" + std::to_string(oh) + ", " + std::to_string(ow) +
                          ") is impossible for input " + shape_text(x.shape) + " with strides " +
                          pair_text(strides) + " and pads " + pair_text(pads));
  }
  return s;
}

void depthwise_forward_py(const py::object& x, const py::object& w, const py::object& bias,
                          const py::object& y, Pair strides, Pair pads, Pair dilation) {
  const char* fn = "depthwise_conv2d_forward";
  FloatArray xa = float_array(x, 4, fn, "x", false), wa = float_array(w, 4, fn, "w", false);
  FloatArray ya = float_array(y, 4, fn, "y", true);
  Conv2DShape s = depthwise_shape(xa, wa, ya.shape[1], ya.shape[2], strides, pads, dilation, fn);
  require_shape(ya, {s.n, s.oh, s.ow, s.f}, fn, "y");
  const float* b = optional_array(bias, {s.f}, fn, "bias", false);
  const int64_t m = wa.shape[3];
  py::gil_scoped_release release;
  depthwise_conv2d_forward(s, m, xa.data, wa.data, b, ya.data);
}

void depthwise_backward_py(const py::object& x, const py::object& w, const py::object& dy,
                           const py::object& dx, const py::object& dw, const py::object& db,
                           Pair strides, Pair pads, Pair dilation) {
  const char* fn = "depthwise_conv2d_backward";
  FloatArray xa = float_array(x, 4, fn, "x", false), wa = float_array(w, 4, fn, "w", false);
  FloatArray dya = float_array(dy, 4, fn, "dy", false);
  Conv2DShape s = depthwise_shape(xa, wa, dya.shape[1], dya.shape[2], strides, pads, dilation, fn);
  require_shape(dya, {s.n, s.oh, s.ow, s.f}, fn, "dy");
  float* dxp = optional_array(dx, xa.shape, fn, "dx", true);
  float* dwp = optional_array(dw, wa.shape, fn, "dw", true);
  float* dbp = optional_array(db, {s.f}, fn, "db", true);
  const int64_t m = wa.shape[3];
  py::gil_scoped_release release;
  depthwise_conv2d_backward(s, m, xa.data, wa.data, dya.data, dxp, dwp, dbp);
}

void register_depthwise(py::module_& m) {
  m.def("depthwise_conv2d_forward", &depthwise_forward_py, py::arg("x"), py::arg("w"),
        py::arg("bias"), py::arg("y"), py::arg("strides"), py::arg("pads"), py::arg("dilation"),
        "y = depthwise_conv(x, w) + bias on NHWC x with w (kh, kw, c, m): output channel "
        "c*m + j is input channel c convolved with w[:, :, c, j]. pads = (top, left); y's "
        "spatial size sets the bottom/right padding. bias may be None.");
  m.def("depthwise_conv2d_backward", &depthwise_backward_py, py::arg("x"), py::arg("w"),
        py::arg("dy"), py::arg("dx"), py::arg("dw"), py::arg("db"), py::arg("strides"),
        py::arg("pads"), py::arg("dilation"),
        "Fills dx, dw and db (each may be None: not computed) for y = depthwise_conv(x, w) + b "
        "given dy; they are overwritten.");
}

Registrar registrar("depthwise_conv2d", &register_depthwise);

}  // namespace
}  // namespace fastkeras::bindings
