// The compiled core of fastkeras: thin bindings over the kernels in csrc/kernels.
#include <pybind11/pybind11.h>

namespace fastkeras::bindings {
void register_gemm(pybind11::module_& m);
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastkeras C++ kernels";
  fastkeras::bindings::register_gemm(m);
}
