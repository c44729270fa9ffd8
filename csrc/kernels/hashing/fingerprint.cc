// Fingerprint64 as FarmHash specifies it: inputs of up to 16, 32 and 64 bytes have their own
// mixing of the first and last words; longer inputs run a 64-byte block loop over two 256-bit
// states and finish on the last 64 bytes. Words are read little-endian whatever the host.
#include "kernels/hashing/fingerprint.h"

#include <cstring>
#include <utility>

namespace fastkeras::kernels {
namespace {

constexpr uint64_t kK0 = 0xc3a5c85c97cb3127ULL;
constexpr uint64_t kK1 = 0xb492b66fbe98f273ULL;
constexpr uint64_t kK2 = 0x9ae16a3b2f90404fULL;

uint64_t load64(const char* p) {
  unsigned char b[8];
  std::memcpy(b, p, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

uint64_t load32(const char* p) {
  unsigned char b[4];
  std::memcpy(b, p, 4);
  return static_cast<uint64_t>(b[0]) | static_cast<uint64_t>(b[1]) << 8 |
         static_cast<uint64_t>(b[2]) << 16 | static_cast<uint64_t>(b[3]) << 24;
}

uint64_t rotr(uint64_t v, int r) { return r == 0 ? v : (v >> r) | (v << (64 - r)); }

uint64_t shift_mix(uint64_t v) { return v ^ (v >> 47); }

uint64_t mix16(uint64_t u, uint64_t v, uint64_t mul) {
  uint64_t a = (u ^ v) * mul;
  a ^= a >> 47;
  uint64_t b = (v ^ a) * mul;
  b ^= b >> 47;
  return b * mul;
}

uint64_t upto16(const char* s, size_t len) {
  if (len >= 8) {
    const uint64_t mul = kK2 + len * 2;
    const uint64_t a = load64(s) + kK2;
    const uint64_t b = load64(s + len - 8);
    return mix16(rotr(b, 37) * mul + a, (rotr(a, 25) + b) * mul, mul);
  }
  if (len >= 4) {
    const uint64_t mul = kK2 + len * 2;
    return mix16(len + (load32(s) << 3), load32(s + len - 4), mul);
  }
  if (len > 0) {
    const auto first = static_cast<unsigned char>(s[0]);
    const auto middle = static_cast<unsigned char>(s[len >> 1]);
    const auto last = static_cast<unsigned char>(s[len - 1]);
    const uint32_t y = static_cast<uint32_t>(first) + (static_cast<uint32_t>(middle) << 8);
    const uint32_t z = static_cast<uint32_t>(len) + (static_cast<uint32_t>(last) << 2);
    return shift_mix(y * kK2 ^ z * kK0) * kK2;
  }
  return kK2;
}

uint64_t upto32(const char* s, size_t len) {
  const uint64_t mul = kK2 + len * 2;
  const uint64_t a = load64(s) * kK1;
  const uint64_t b = load64(s + 8);
  const uint64_t c = load64(s + len - 8) * mul;
  const uint64_t d = load64(s + len - 16) * kK2;
  return mix16(rotr(a + b, 43) + rotr(c, 30) + d, a + rotr(b + kK2, 18) + c, mul);
}

uint64_t upto64(const char* s, size_t len) {
  const uint64_t mul = kK2 + len * 2;
  const uint64_t a = load64(s) * kK2;
  const uint64_t b = load64(s + 8);
  const uint64_t c = load64(s + len - 8) * mul;
  const uint64_t d = load64(s + len - 16) * kK2;
  const uint64_t y = rotr(a + b, 43) + rotr(c, 30) + d;
  const uint64_t z = mix16(y, a + rotr(b + kK2, 18) + c, mul);
  const uint64_t e = load64(s + 16) * mul;
  const uint64_t f = load64(s + 24);
  const uint64_t g = (y + load64(s + len - 32)) * mul;
  const uint64_t h = (z + load64(s + len - 24)) * mul;
  return mix16(rotr(e + f, 43) + rotr(g, 30) + h, e + rotr(f + a, 18) + g, mul);
}

// Mixes the 32 bytes at s into the pair (a, b).
std::pair<uint64_t, uint64_t> mix32(const char* s, uint64_t a, uint64_t b) {
  const uint64_t w = load64(s), x = load64(s + 8), y = load64(s + 16), z = load64(s + 24);
  a += w;
  b = rotr(b + a + z, 21);
  const uint64_t c = a;
  a += x;
  a += y;
  b += rotr(a, 44);
  return {a + z, b + c};
}

}  // namespace

uint64_t fingerprint64(const char* s, size_t len) {
  if (len <= 16) return upto16(s, len);
  if (len <= 32) return upto32(s, len);
  if (len <= 64) return upto64(s, len);
  constexpr uint64_t kSeed = 81;
  uint64_t x = kSeed;
  uint64_t y = kSeed * kK1 + 113;
  uint64_t z = shift_mix(y * kK2 + 113) * kK2;
  std::pair<uint64_t, uint64_t> v{0, 0}, w{0, 0};
  x = x * kK2 + load64(s);
  // Whole 64-byte blocks, leaving 1 to 64 bytes; the tail is the input's last 64 bytes.
  const char* end = s + ((len - 1) / 64) * 64;
  const char* last64 = end + ((len - 1) & 63) - 63;
  do {
    x = rotr(x + y + v.first + load64(s + 8), 37) * kK1;
    y = rotr(y + v.second + load64(s + 48), 42) * kK1;
    x ^= w.second;
    y += v.first + load64(s + 40);
    z = rotr(z + w.first, 33) * kK1;
    v = mix32(s, v.second * kK1, x + w.first);
    w = mix32(s + 32, z + w.second, y + load64(s + 16));
    std::swap(z, x);
    s += 64;
  } while (s != end);
  const uint64_t mul = kK1 + ((z & 0xff) << 1);
  s = last64;
  w.first += (len - 1) & 63;
  v.first += w.first;
  w.first += v.first;
  x = rotr(x + y + v.first + load64(s + 8), 37) * mul;
  y = rotr(y + v.second + load64(s + 48), 42) * mul;
  x ^= w.second * 9;
  y += v.first * 9 + load64(s + 40);
  z = rotr(z + w.first, 33) * mul;
  v = mix32(s, v.second * mul, x + w.first);
  w = mix32(s + 32, z + w.second, y + load64(s + 16));
  std::swap(z, x);
  return mix16(mix16(v.first, w.first, mul) + shift_mix(y) * kK0 + z,
               mix16(v.second, w.second, mul) + x, mul);
}

}  // namespace fastkeras::kernels
