// FarmHash Fingerprint64 against published values of the reference implementation, for every
// code path: lengths 0-3, 4-7, 8-16, 17-32, 33-64 and the block loop (one, two and many
// 64-byte blocks, with full and partial tails).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/hashing/fingerprint.h"

namespace fastkeras::kernels {
namespace {

std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 37 + 11) % 256);
  return s;
}

TEST(Fingerprint64, MatchesReferenceOnEveryLengthClass) {
  const std::vector<std::pair<size_t, uint64_t>> expected = {
      {0, 11160318154034397263ULL},    {1, 4787810249829893994ULL},
      {2, 12576505597060068467ULL},    {3, 3979540680440595841ULL},
      {4, 14708324829907283305ULL},    {7, 10810953559526984053ULL},
      {8, 9029840561075318013ULL},     {15, 9461816582243015007ULL},
      {16, 15579719139305551062ULL},   {17, 6692022265393568454ULL},
      {31, 5954998855510709538ULL},    {32, 11543571239247179175ULL},
      {33, 9480451918888261270ULL},    {63, 9004466194475038334ULL},
      {64, 4226431515964725ULL},       {65, 18101669290602532278ULL},
      {127, 15496381160035339524ULL},  {128, 3742283891066476345ULL},
      {129, 14054188206783653085ULL},  {200, 5850749971184008558ULL},
      {1000, 14329278931567331828ULL},
  };
  for (const auto& [n, want] : expected) {
    const std::string s = pattern(n);
    EXPECT_EQ(fingerprint64(s.data(), s.size()), want) << "length " << n;
  }
}

TEST(Fingerprint64, Strings) {
  EXPECT_EQ(fingerprint64("hello", 5), 13009744463427800296ULL);
  // "Ünïcødé" in UTF-8 (each escape ends its literal: a following letter could be hex).
  const std::string utf8 =
      std::string("\xc3\x9c") + "n" + "\xc3\xaf" + "c" + "\xc3\xb8" + "d" + "\xc3\xa9";
  EXPECT_EQ(fingerprint64(utf8.data(), utf8.size()), 18021930045272098073ULL);
}

TEST(Fingerprint64, ReadsOnlyItsBytes) {
  // The same bytes at any alignment, and bytes past the end never change the result.
  const std::string s = pattern(300);
  const uint64_t want = fingerprint64(s.data(), 150);
  for (size_t offset = 1; offset < 9; ++offset) {
    std::string shifted(offset, 'x');
    shifted += s.substr(0, 150);
    shifted += "trailing bytes";
    EXPECT_EQ(fingerprint64(shifted.data() + offset, 150), want) << "offset " << offset;
  }
}

}  // namespace
}  // namespace fastkeras::kernels
