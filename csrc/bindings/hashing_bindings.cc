// Python binding for FarmHash Fingerprint64 (csrc/kernels/hashing): the bucket of each string
// of a sequence (str as UTF-8, or bytes), as the hashing and lookup layers need them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bindings/registry.h"
#include "kernels/hashing/fingerprint.h"

namespace py = pybind11;

namespace fastkeras::bindings {
namespace {

// fingerprint64(strings, num_buckets=0): an int64 array of fingerprint % num_buckets, or
// with num_buckets 0 a uint64 array of the fingerprints themselves.
py::array fingerprint_buckets(const py::sequence& strings, uint64_t num_buckets) {
  const auto n = static_cast<py::ssize_t>(py::len(strings));
  py::array out;
  uint64_t* data = nullptr;
  if (num_buckets) {
    py::array_t<int64_t> buckets(n);
    data = reinterpret_cast<uint64_t*>(buckets.mutable_data());
    out = buckets;
  } else {
    py::array_t<uint64_t> hashes(n);
    data = hashes.mutable_data();
    out = hashes;
  }
  for (py::ssize_t i = 0; i < n; ++i) {
    py::handle item = strings[i];
    std::string bytes;
    if (py::isinstance<py::bytes>(item)) {
      bytes = item.cast<std::string>();
    } else if (py::isinstance<py::str>(item)) {
      bytes = item.cast<std::string>();  // UTF-8
    } else {
      throw py::type_error("fingerprint64: every item must be a str or bytes, item " +
                           std::to_string(i) + " is " + std::string(py::str(py::type::of(item))));
    }
    const uint64_t h = kernels::fingerprint64(bytes.data(), bytes.size());
    data[i] = num_buckets ? h % num_buckets : h;
  }
  return out;
}

void register_hashing(py::module_& m) {
  m.def("fingerprint64", &fingerprint_buckets, py::arg("strings"), py::arg("num_buckets") = 0,
        "FarmHash Fingerprint64 of each str (UTF-8) or bytes item; with num_buckets > 0 the "
        "bucket fingerprint % num_buckets (int64), else the fingerprints (uint64).");
}

Registrar registrar("hashing", &register_hashing);

}  // namespace
}  // namespace fastkeras::bindings
