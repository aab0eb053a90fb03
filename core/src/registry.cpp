// The one registry of kernels: built-ins now, plugins later, looked up by name.
#include "tilefork/errors.hpp"
#include "tilefork/kernel.hpp"

#include <fmt/format.h>

namespace tilefork {

KernelRegistry& KernelRegistry::instance() {
  static KernelRegistry registry;
  return registry;
}

void KernelRegistry::add(const KernelSpec& spec) {
  if (!kernels_.emplace(std::string(spec.name), spec).second) {
    throw UsageError(fmt::format("a kernel named '{}' is already registered", spec.name));
  }
}

const KernelSpec* KernelRegistry::find(std::string_view name) const {
  const auto it = kernels_.find(name);
  return it == kernels_.end() ? nullptr : &it->second;
}

std::vector<const KernelSpec*> KernelRegistry::all() const {
  std::vector<const KernelSpec*> result;
  for (const auto& [name, spec] : kernels_) result.push_back(&spec);
  return result;
}

}  // namespace tilefork
