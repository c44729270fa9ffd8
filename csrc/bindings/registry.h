// Binding files register themselves with the _core module, so adding a family of kernels to
// Python means adding one *_bindings.cc file:
//
//   static fastkeras::bindings::Registrar registrar("losses", &register_losses);
#pragma once

#include <pybind11/pybind11.h>

#include <utility>
#include <vector>

namespace fastkeras::bindings {

using RegisterFn = void (*)(pybind11::module_&);

// Every registered (name, fn), in registration order.
std::vector<std::pair<const char*, RegisterFn>>& registered_bindings();

struct Registrar {
  Registrar(const char* name, RegisterFn fn) { registered_bindings().emplace_back(name, fn); }
};

}  // namespace fastkeras::bindings
