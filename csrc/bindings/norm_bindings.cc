// Batch normalization: training and inference forward passes and the fused backward, over any
// axis of a C-contiguous float32 array (the axis is given, never moved: see batchnorm.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <tuple>
#include <vector>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/norm/batchnorm.h"

namespace fastkeras::bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style>;

// A C-contiguous float32 array, or TypeError/ValueError naming fn and arg.
const py::array& contiguous(const py::array& a, const char* fn, const char* arg) {
  require_float32(a, fn, arg);
  if (!(a.flags() & py::array::c_style)) {
    throw py::value_error(std::string(fn) + ": `" + arg +
                          "` must be C-contiguous (pass np.ascontiguousarray(" + arg + "))");
  }
  return a;
}

// The (outer, channels, inner) view of x around `axis` (negative counts from the end).
BatchNormShape view_of(const py::array& x, int64_t axis, const char* fn) {
  const int64_t nd = x.ndim();
  if (nd < 1) {
    throw py::value_error(std::string(fn) +
                          ": `x` must have at least one dimension, received "
                          "a scalar");
  }
  if (axis < -nd || axis >= nd) {
    throw py::value_error(std::string(fn) + ": `axis` " + std::to_string(axis) +
                          " is out of range for an array of shape " + shape_str(x));
  }
  if (axis < 0) axis += nd;
  BatchNormShape s;
  s.outer = 1;
  s.inner = 1;
  for (int64_t d = 0; d < axis; ++d) s.outer *= x.shape(d);
  s.channels = x.shape(axis);
  for (int64_t d = axis + 1; d < nd; ++d) s.inner *= x.shape(d);
  return s;
}

// A per-channel vector of length c (None -> nullptr).
const float* channel_vector(const py::object& obj, int64_t c, const char* fn, const char* arg,
                            bool optional) {
  if (obj.is_none()) {
    if (optional) return nullptr;
    throw py::type_error(std::string(fn) + ": `" + arg + "` is required");
  }
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(fn) + ": `" + arg + "` must be a float32 numpy array");
  }
  py::array a = obj.cast<py::array>();
  contiguous(a, fn, arg);
  if (a.ndim() != 1 || a.shape(0) != c) {
    throw py::value_error(std::string(fn) + ": `" + arg + "` must have shape (" +
                          std::to_string(c) + ",) to match the normalized axis, received " +
                          shape_str(a));
  }
  return static_cast<const float*>(a.data());
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
  return std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim());
}

std::tuple<FloatArray, FloatArray, FloatArray, FloatArray> forward_train_py(const py::array& x,
                                                                            int64_t axis,
                                                                            const py::object& gamma,
                                                                            const py::object& beta,
                                                                            float epsilon) {
  const char* fn = "batchnorm_forward_train";
  contiguous(x, fn, "x");
  const BatchNormShape s = view_of(x, axis, fn);
  const float* g = channel_vector(gamma, s.channels, fn, "gamma", true);
  const float* b = channel_vector(beta, s.channels, fn, "beta", true);
  FloatArray y(shape_of(x));
  FloatArray mean(s.channels), var(s.channels), inv_std(s.channels);
  const float* xp = static_cast<const float*>(x.data());
  float* yp = y.mutable_data();
  float* mp = mean.mutable_data();
  float* vp = var.mutable_data();
  float* ip = inv_std.mutable_data();
  {
    py::gil_scoped_release release;
    batchnorm_forward_train(s, xp, g, b, epsilon, yp, mp, vp, ip);
  }
  return {y, mean, var, inv_std};
}

FloatArray forward_infer_py(const py::array& x, int64_t axis, const py::array& mean,
                            const py::array& variance, const py::object& gamma,
                            const py::object& beta, float epsilon) {
  const char* fn = "batchnorm_forward_infer";
  contiguous(x, fn, "x");
  const BatchNormShape s = view_of(x, axis, fn);
  const float* m = channel_vector(mean, s.channels, fn, "mean", false);
  const float* v = channel_vector(variance, s.channels, fn, "variance", false);
  const float* g = channel_vector(gamma, s.channels, fn, "gamma", true);
  const float* b = channel_vector(beta, s.channels, fn, "beta", true);
  FloatArray y(shape_of(x));
  const float* xp = static_cast<const float*>(x.data());
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    batchnorm_forward_infer(s, xp, m, v, g, b, epsilon, yp);
  }
  return y;
}

py::tuple backward_py(const py::array& x, const py::array& dy, int64_t axis, const py::array& mean,
                      const py::array& inv_std, const py::object& gamma, bool batch_stats,
                      bool need_dx, bool need_dgamma, bool need_dbeta) {
  const char* fn = "batchnorm_backward";
  contiguous(x, fn, "x");
  contiguous(dy, fn, "dy");
  if (dy.ndim() != x.ndim() || shape_of(dy) != shape_of(x)) {
    throw py::value_error(std::string(fn) + ": `dy` must have the shape of `x` " + shape_str(x) +
                          ", received " + shape_str(dy));
  }
  const BatchNormShape s = view_of(x, axis, fn);
  const float* m = channel_vector(mean, s.channels, fn, "mean", false);
  const float* is = channel_vector(inv_std, s.channels, fn, "inv_std", false);
  const float* g = channel_vector(gamma, s.channels, fn, "gamma", true);
  py::object dx = py::none(), dgamma = py::none(), dbeta = py::none();
  float *dxp = nullptr, *dgp = nullptr, *dbp = nullptr;
  if (need_dx) {
    FloatArray a(shape_of(x));
    dxp = a.mutable_data();
    dx = a;
  }
  if (need_dgamma) {
    FloatArray a(s.channels);
    dgp = a.mutable_data();
    dgamma = a;
  }
  if (need_dbeta) {
    FloatArray a(s.channels);
    dbp = a.mutable_data();
    dbeta = a;
  }
  const float* xp = static_cast<const float*>(x.data());
  const float* dyp = static_cast<const float*>(dy.data());
  {
    py::gil_scoped_release release;
    batchnorm_backward(s, xp, dyp, m, is, g, batch_stats, dxp, dgp, dbp);
  }
  return py::make_tuple(dx, dgamma, dbeta);
}

void register_norm(py::module_& m) {
  m.def("batchnorm_forward_train", &forward_train_py, py::arg("x"), py::arg("axis"),
        py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
        "Batch normalization with the batch's own statistics over every axis but `axis`. "
        "gamma/beta may be None. Returns (y, mean, biased variance, 1/sqrt(variance + epsilon)).");
  m.def("batchnorm_forward_infer", &forward_infer_py, py::arg("x"), py::arg("axis"),
        py::arg("mean"), py::arg("variance"), py::arg("gamma"), py::arg("beta"), py::arg("epsilon"),
        "Batch normalization with given per-channel mean and variance. Returns y.");
  m.def("batchnorm_backward", &backward_py, py::arg("x"), py::arg("dy"), py::arg("axis"),
        py::arg("mean"), py::arg("inv_std"), py::arg("gamma"), py::arg("batch_stats"),
        py::arg("need_dx") = true, py::arg("need_dgamma") = true, py::arg("need_dbeta") = true,
        "Backward of batch normalization given the statistics the forward used; with "
        "batch_stats the gradient also flows through them. Returns (dx, dgamma, dbeta), "
        "None where not requested.");
}

Registrar registrar("norm", &register_norm);

}  // namespace
}  // namespace fastkeras::bindings
