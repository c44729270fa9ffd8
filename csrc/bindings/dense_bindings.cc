// dense_backward: a Dense layer's whole backward pass in one call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/dense/dense.h"

namespace fastkeras::bindings {
namespace {

// A C-contiguous float32 array of exactly `shape` (TypeError/ValueError otherwise).
float* checked(const py::object& obj, std::vector<int64_t> shape, const char* arg, bool writable) {
  FloatArray a = float_array(obj, static_cast<int>(shape.size()), "dense_backward", arg, writable);
  require_shape(a, shape, "dense_backward", arg);
  return a.data;
}

void dense_backward_py(const py::array& x, const py::array& w, const py::object& y,
                       const py::array& dy, bool relu, const py::object& dx, const py::object& dw,
                       const py::object& db, float beta, float alpha) {
  MatrixView xv = matrix_view(x, "dense_backward", "x");
  if (xv.transposed && x.shape(0) > 1 && x.shape(1) > 1) {
    throw py::value_error("dense_backward: `x` must be row-major");
  }
  require_ndim(w, 2, "dense_backward", "w");
  const int64_t batch = x.shape(0), in = x.shape(1), units = w.shape(1);
  DenseBackwardArgs a;
  a.batch = batch;
  a.in = in;
  a.units = units;
  a.x = xv.data;
  a.ldx = xv.ld;
  a.w = checked(w, {in, units}, "w", false);
  a.dy = checked(dy, {batch, units}, "dy", false);
  a.act = relu ? Activation::kRelu : Activation::kIdentity;
  if (relu) a.y = checked(y, {batch, units}, "y", false);
  a.dx = optional_array(dx, {batch, in}, "dense_backward", "dx", true);
  a.dw = optional_array(dw, {in, units}, "dense_backward", "dw", true);
  a.db = optional_array(db, {units}, "dense_backward", "db", true);
  a.beta = beta;
  a.alpha = alpha;
  // dw may be w itself (an in-place SGD step: dx is computed from w first); nothing else may
  // share memory with an output.
  if (a.dx && (overlaps(dx.cast<py::array>(), w) || overlaps(dx.cast<py::array>(), dy))) {
    throw py::value_error("dense_backward: `dx` shares memory with an input");
  }
  py::gil_scoped_release release;
  dense_backward(a);
}

void register_dense(py::module_& m) {
  m.def("dense_backward", &dense_backward_py, py::arg("x"), py::arg("w"), py::arg("y"),
        py::arg("dy"), py::arg("relu"), py::arg("dx"), py::arg("dw"), py::arg("db"),
        py::arg("beta") = 0.0f, py::arg("alpha") = 1.0f,
        "Backward of y = act(x @ w + b): fills dx (or None), dw and db (or None); "
        "dw/db = alpha * grad + beta * dw/db. dx is computed first, so dw may be w itself "
        "(beta=1, alpha=-lr: an SGD step in place).");
}

Registrar registrar("dense", &register_dense);

}  // namespace
}  // namespace fastkeras::bindings
