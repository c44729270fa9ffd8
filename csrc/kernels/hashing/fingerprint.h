// FarmHash's Fingerprint64 (the "na" variant of its 64-bit hash): a stable 64-bit hash of a
// byte string, the one TensorFlow's string hashing and Keras's Hashing layer and
// vocabulary-lookup OOV buckets use. Portable: the result does not depend on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastkeras::kernels {

uint64_t fingerprint64(const char* data, size_t len);

}  // namespace fastkeras::kernels
