// The compiled core of fastkeras: thin bindings over the kernels in csrc/kernels. Each
// *_bindings.cc file registers its functions through bindings/registry.h.
#include <pybind11/pybind11.h>

#include "bindings/registry.h"

namespace fastkeras::bindings {

std::vector<std::pair<const char*, RegisterFn>>& registered_bindings() {
  static std::vector<std::pair<const char*, RegisterFn>> fns;
  return fns;
}

}  // namespace fastkeras::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastkeras C++ kernels";
  for (auto& [name, fn] : fastkeras::bindings::registered_bindings()) {
    (void)name;
    fn(m);
  }
}
