// Python bindings for the GEMM, the bias-gradient reduction and the threading/ISA settings.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "bindings/checks.h"
#include "bindings/registry.h"
#include "kernels/cpu_features.h"
#include "kernels/elementwise/bias.h"
#include "kernels/gemm/gemm.h"
#include "kernels/parallel.h"

namespace fastkeras::bindings {
namespace {

Activation parse_activation(const py::object& act) {
  if (act.is_none()) return Activation::kIdentity;
  const std::string name = py::str(act);
  if (name == "linear" || name == "identity") return Activation::kIdentity;
  if (name == "relu") return Activation::kRelu;
  throw py::value_error("gemm: `activation` must be 'linear' or 'relu', received '" + name + "'");
}

py::array_t<float> gemm(const py::array& a, const py::array& b, py::object out, bool trans_a,
                        bool trans_b, float alpha, float beta, py::object bias,
                        const py::object& activation) {
  const char* fn = "gemm";
  MatrixView av = matrix_view(a, fn, "a");
  MatrixView bv = matrix_view(b, fn, "b");
  const int64_t m = trans_a ? a.shape(1) : a.shape(0);
  const int64_t ka = trans_a ? a.shape(0) : a.shape(1);
  const int64_t kb = trans_b ? b.shape(1) : b.shape(0);
  const int64_t n = trans_b ? b.shape(0) : b.shape(1);
  if (ka != kb) {
    throw py::value_error(std::string("gemm: inner dimensions differ: op(a) is (") +
                          std::to_string(m) + ", " + std::to_string(ka) + ") and op(b) is (" +
                          std::to_string(kb) + ", " + std::to_string(n) + ") (a " + shape_str(a) +
                          ", trans_a=" + (trans_a ? "True" : "False") + "; b " + shape_str(b) +
                          ", trans_b=" + (trans_b ? "True" : "False") + ")");
  }
  const Activation act = parse_activation(activation);

  const float* bias_ptr = nullptr;
  py::array bias_arr;
  if (!bias.is_none()) {
    if (!py::isinstance<py::array>(bias)) {
      throw py::type_error("gemm: `bias` must be a float32 numpy array or None, received " +
                           std::string(py::str(py::type::of(bias))));
    }
    bias_arr = bias.cast<py::array>();
    require_float32(bias_arr, fn, "bias");
    require_ndim(bias_arr, 1, fn, "bias");
    if (bias_arr.shape(0) != n) {
      throw py::value_error("gemm: `bias` must have length N=" + std::to_string(n) +
                            ", received shape " + shape_str(bias_arr));
    }
    if (n > 1 && bias_arr.strides(0) != static_cast<py::ssize_t>(sizeof(float))) {
      throw py::value_error("gemm: `bias` must be contiguous");
    }
    bias_ptr = static_cast<const float*>(bias_arr.data());
  }

  py::array_t<float> c;
  if (out.is_none()) {
    if (beta != 0.0f) {
      throw py::value_error("gemm: beta=" + std::to_string(beta) +
                            " reads C, so `out` must be given");
    }
    c = py::array_t<float>({m, n});
  } else {
    if (!py::isinstance<py::array>(out)) {
      throw py::type_error("gemm: `out` must be a float32 numpy array or None, received " +
                           std::string(py::str(py::type::of(out))));
    }
    py::array o = out.cast<py::array>();
    require_float32(o, fn, "out");
    require_ndim(o, 2, fn, "out");
    if (o.shape(0) != m || o.shape(1) != n) {
      throw py::value_error("gemm: `out` must have shape (" + std::to_string(m) + ", " +
                            std::to_string(n) + "), received " + shape_str(o));
    }
    if (!o.writeable()) throw py::value_error("gemm: `out` is read-only");
    MatrixView ov = matrix_view(o, fn, "out");
    if (ov.transposed && m > 1 && n > 1) {
      throw py::value_error("gemm: `out` must be row-major (C-ordered or a row slice of one)");
    }
    if (overlaps(o, a) || overlaps(o, b) || (bias_ptr && overlaps(o, bias_arr))) {
      throw py::value_error("gemm: `out` shares memory with an input; pass a separate array");
    }
    c = py::reinterpret_borrow<py::array_t<float>>(o);
  }

  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = ka;
  g.alpha = alpha;
  g.beta = beta;
  // Python's trans flag composes with a transposed memory layout.
  g.trans_a = (trans_a != av.transposed) ? Trans::kYes : Trans::kNo;
  g.trans_b = (trans_b != bv.transposed) ? Trans::kYes : Trans::kNo;
  g.a = av.data;
  g.lda = av.ld;
  g.b = bv.data;
  g.ldb = bv.ld;
  g.c = static_cast<float*>(c.mutable_data());
  g.ldc = (m > 1) ? c.strides(0) / static_cast<int64_t>(sizeof(float)) : std::max<int64_t>(n, 1);
  g.bias = bias_ptr;
  g.act = act;
  {
    py::gil_scoped_release release;
    sgemm(g);
  }
  return c;
}

py::array_t<float> column_sums_py(const py::array& x, py::object out, float beta) {
  const char* fn = "column_sums";
  MatrixView xv = matrix_view(x, fn, "x");
  if (xv.transposed && x.shape(0) > 1 && x.shape(1) > 1) {
    throw py::value_error("column_sums: `x` must be row-major (C-ordered or a row slice of one)");
  }
  const int64_t rows = x.shape(0), cols = x.shape(1);
  py::array_t<float> o;
  if (out.is_none()) {
    if (beta != 0.0f) throw py::value_error("column_sums: beta != 0 reads `out`, so pass it");
    o = py::array_t<float>(cols);
  } else {
    py::array arr = out.cast<py::array>();
    require_float32(arr, fn, "out");
    require_ndim(arr, 1, fn, "out");
    if (arr.shape(0) != cols) {
      throw py::value_error("column_sums: `out` must have length " + std::to_string(cols) +
                            ", received shape " + shape_str(arr));
    }
    if (!arr.writeable()) throw py::value_error("column_sums: `out` is read-only");
    if (cols > 1 && arr.strides(0) != static_cast<py::ssize_t>(sizeof(float))) {
      throw py::value_error("column_sums: `out` must be contiguous");
    }
    o = py::reinterpret_borrow<py::array_t<float>>(arr);
  }
  float* dst = static_cast<float*>(o.mutable_data());
  {
    py::gil_scoped_release release;
    column_sums(xv.data, rows, cols, xv.ld, beta, dst);
  }
  return o;
}

void register_gemm(py::module_& m) {
  // Positional calls are the fast path (pybind11 spends ~0.6 us matching keywords), so every
  // argument may be passed either way.
  m.def(
      "gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
      py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
      py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("activation") = py::none(),
      R"doc(gemm(a, b, out=None, trans_a=False, trans_b=False, alpha=1, beta=0, bias=None, activation=None)

out = activation(alpha * op(a) @ op(b) + beta * out + bias), float32.

op(x) is x or x.T per trans_a/trans_b. Views (row slices, .T, Fortran order) are read in place.
With out=None a new (M, N) array is returned (beta must then be 0).)doc");
  m.def("column_sums", &column_sums_py, py::arg("x"), py::arg("out") = py::none(), py::kw_only(),
        py::arg("beta") = 0.0f, "out = beta * out + x.sum(axis=0): a Dense layer's bias gradient.");

  m.def("get_num_threads", &num_threads, "Threads the kernels may use.");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1) {
          throw py::value_error("set_num_threads: expected a positive integer, received " +
                                std::to_string(n));
        }
        set_num_threads(n);
      },
      py::arg("n"));
  m.def(
      "reset_num_threads", []() { set_num_threads(0); },
      "Back to FASTKERAS_NUM_THREADS or the number of available cores.");

  m.def(
      "gemm_isa", []() { return std::string(isa_name(gemm_isa())); },
      "The instruction set the GEMM dispatches to.");
  m.def("supported_isas", []() {
    std::vector<std::string> names;
    for (Isa isa : supported_isas()) names.emplace_back(isa_name(isa));
    return names;
  });
  m.def(
      "set_gemm_isa",
      [](const std::string& name) {
        Isa isa;
        if (name == "auto") {
          set_gemm_isa(best_isa());
          return;
        }
        if (!parse_isa(name, &isa)) {
          throw py::value_error(
              "set_gemm_isa: expected 'auto', 'generic', 'avx2' or 'avx512', "
              "received '" +
              name + "'");
        }
        if (!isa_supported(isa)) {
          throw py::value_error("set_gemm_isa: this CPU or build does not support '" + name + "'");
        }
        set_gemm_isa(isa);
      },
      py::arg("name"));
}

Registrar registrar("gemm", &register_gemm);

}  // namespace
}  // namespace fastkeras::bindings
