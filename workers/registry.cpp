// Lists the built-in kernels; the one place that knows them all.
#include "builtin.hpp"

#include "tilefork/errors.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <mutex>
#include <opencv2/core.hpp>
#include <vector>

namespace tilefork {

namespace builtin {

void require_depth(FrameType input, std::initializer_list<int> depths) {
  bool accepted = false;
  std::vector<std::string> names;
  for (int depth : depths) {
    accepted = accepted || depth == input.depth;
    names.push_back(to_string(FrameType{depth, 1}).substr(0, to_string(FrameType{depth, 1}).find(' ')));
  }
  if (!accepted) {
    throw UsageError(fmt::format("it takes {} frames", fmt::join(names, ", ")));
  }
  if (input.channels < 1 || input.channels > 4) {
    throw UsageError("it takes frames of 1 to 4 channels");
  }
}

}  // namespace builtin

void register_builtin_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto& registry = KernelRegistry::instance();
    for (const KernelSpec* spec : {&builtin::gaussian(), &builtin::box(), &builtin::median(),
                                   &builtin::sobel(), &builtin::threshold(), &builtin::invert(),
                                   &builtin::gray()}) {
      registry.add(*spec);
    }
  });
}

}  // namespace tilefork
