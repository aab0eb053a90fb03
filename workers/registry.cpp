// Lists the built-in kernels; the one place that knows them all.
#include "builtin.hpp"

#include <mutex>

namespace tilefork {

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
