// What the CPU we run on can execute, read once at start-up.
#pragma once

#include <string>
#include <vector>

namespace fastkeras {

// Instruction-set levels we have kernels for, from most portable to fastest.
enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

const char* isa_name(Isa isa);
// Parses "generic", "avx2" or "avx512"; returns false on anything else.
bool parse_isa(const std::string& name, Isa* out);

// True when this build has kernels for `isa` and the CPU (and OS) can run them.
bool isa_supported(Isa isa);
// Every ISA that isa_supported() accepts, portable first.
std::vector<Isa> supported_isas();
// The fastest supported ISA: what the dispatcher uses unless told otherwise.
Isa best_isa();

}  // namespace fastkeras
