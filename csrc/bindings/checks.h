// Argument checks shared by the bindings: every array that reaches a kernel has been checked for
// dtype, rank, shape and memory layout here, and a bad one raises TypeError/ValueError naming
// the function, the argument and what was received.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fastkeras::bindings {

namespace py = pybind11;

std::string shape_str(const py::array& a);

// Raises TypeError unless `a` holds float32.
void require_float32(const py::array& a, const char* fn, const char* arg);
// Raises ValueError unless `a` has `ndim` dimensions.
void require_ndim(const py::array& a, int ndim, const char* fn, const char* arg);

// A 2-D float32 operand as the kernels see it: a row-major matrix with leading dimension `ld`,
// possibly the transpose of what Python holds (a Fortran-ordered array or a `.T` view is read
// as the transpose of a row-major one, without a copy).
struct MatrixView {
  const float* data;
  int64_t ld;
  bool transposed;  // the memory holds the transpose of the logical matrix
};
MatrixView matrix_view(const py::array& a, const char* fn, const char* arg);

// A C-contiguous float32 array of rank `ndim` (TypeError/ValueError otherwise, naming `fn` and
// `arg`); `writable` also requires it to be writable. Inputs may be read-only views.
struct FloatArray {
  float* data;
  std::vector<int64_t> shape;
};
FloatArray float_array(const py::object& obj, int ndim, const char* fn, const char* arg,
                       bool writable);

// "(2, 3)"-style text for a shape.
std::string shape_text(const std::vector<int64_t>& shape);
// ValueError naming `fn` and `arg` unless a.shape == want.
void require_shape(const FloatArray& a, const std::vector<int64_t>& want, const char* fn,
                   const char* arg);

// Null for None, else float_array(...) of exactly `shape` (an optional input or output).
float* optional_array(const py::object& obj, const std::vector<int64_t>& shape, const char* fn,
                      const char* arg, bool writable);

// True when the byte ranges spanned by the two arrays overlap.
bool overlaps(const py::array& a, const py::array& b);

}  // namespace fastkeras::bindings
