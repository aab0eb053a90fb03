// The exactness cases of every kernel: each test file owns its list; the catalogue test reads both.
#pragma once

#include <opencv2/core/hal/interface.h>

#include <cctype>
#include <ostream>
#include <string>
#include <vector>

namespace tilefork::test {

// How much of the expensive 1283x997 checks a tile kernel case gets. The first kernels keep the
// whole grid; later ones run it on their first type with a few tilings, so that the suite stays
// near a minute and a half on two cores (the small and medium frames still cover every type).
enum class LargeFrames { all_types, first_type };

struct KernelCase {
  std::string stage;       // one stage of pipeline text
  std::vector<int> types;  // frame types to try
  LargeFrames large = LargeFrames::first_type;
};

inline std::ostream& operator<<(std::ostream& out, const KernelCase& c) { return out << c.stage; }

// A test name from the stage text: letters and digits, the rest '_'; long ones are cut and
// numbered (a lookup table would make a name of a thousand characters).
inline std::string case_name(const KernelCase& c, std::size_t index) {
  constexpr std::size_t kLongest = 60;
  std::string name;
  for (char ch : c.stage) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  if (name.size() > kLongest) name = name.substr(0, kLongest) + "_case" + std::to_string(index);
  return name;
}

inline const std::vector<int> kAnyDepth = {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_32FC1, CV_32FC3};
inline const std::vector<int> kEightBit = {CV_8UC1, CV_8UC3, CV_8UC4};

const std::vector<KernelCase>& tile_kernel_cases();   // exactness_test.cpp: tile and pointwise kernels
const std::vector<KernelCase>& frame_kernel_cases();  // frame_kernels_test.cpp

}  // namespace tilefork::test
