// `tilefork kernels [NAME] [--json]`: the kernel table, read from each kernel's declaration.
#include "commands.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/external_worker.hpp"
#include "tilefork/kernel.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tilefork::app {
namespace {

std::string_view type_name(ParamType type) {
  switch (type) {
    case ParamType::integer: return "int";
    case ParamType::real: return "real";
    case ParamType::choice: return "choice";
    case ParamType::numbers: return "numbers";
  }
  return "?";
}

int default_halo(const KernelSpec& spec) {
  if (spec.whole_frame || spec.pointwise || !spec.halo) return 0;
  return spec.halo(Params(spec.name, spec.params, {}));
}

nlohmann::json to_json(const KernelSpec& spec) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& param : spec.params) {
    params.push_back({{"name", param.name},
                      {"type", type_name(param.type)},
                      {"default", param.describe_default()},
                      {"range", param.describe_range()},
                      {"help", param.help}});
  }
  return {{"name", spec.name},
          {"summary", spec.summary},
          {"kind", spec.whole_frame ? "frame" : spec.pointwise ? "pointwise" : "tile"},
          {"depths", spec.depths},
          {"channels", spec.channels},
          {"takes", describe_inputs(spec)},
          {"default_halo", default_halo(spec)},
          {"external", spec.external},
          {"params", params}};
}

void print_details(const KernelSpec& spec) {
  fmt::print("{} - {}\n", spec.name, spec.summary);
  if (spec.external) fmt::print("  runs in the external worker program (--worker-exec)\n");
  fmt::print("  {}\n", spec.whole_frame ? "frame kernel: one task per frame, may change its size"
                       : spec.pointwise ? "pointwise tile kernel: no halo"
                                        : "tile kernel: tiles grown by a halo that follows from its parameters");
  fmt::print("  takes {}\n", describe_inputs(spec));
  if (!spec.whole_frame && !spec.pointwise && spec.halo) {
    fmt::print("  halo {} px with the default parameters (it follows the parameters)\n", default_halo(spec));
  }
  if (spec.params.empty()) {
    fmt::print("  no parameters\n");
    return;
  }
  fmt::print("  {:<10} {:<7} {:<10} {:<28} {}\n", "parameter", "type", "default", "range", "help");
  for (const auto& param : spec.params) {
    fmt::print("  {:<10} {:<7} {:<10} {:<28} {}\n", param.name, type_name(param.type),
               param.describe_default(), param.describe_range(), param.help);
  }
}

}  // namespace

void add_kernels_command(CLI::App& app, std::function<int()>& action) {
  auto* command = app.add_subcommand("kernels", "list the kernels, or show one kernel's parameters");
  auto name = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto worker_exec = std::make_shared<std::string>();
  command->add_option("name", *name, "show this kernel's parameters");
  command->add_option("--worker-exec", *worker_exec, "also list the kernels this external worker program offers");
  command->add_flag("--json", *json, "print as JSON for tools");
  command->callback([&action, name, json, worker_exec] {
    action = [name, json, worker_exec] {
      auto& registry = KernelRegistry::instance();
      if (!worker_exec->empty()) {
        for (const KernelSpec& spec : describe_external_worker(*worker_exec)) registry.add(spec);
      }
      std::vector<const KernelSpec*> chosen;
      if (name->empty()) {
        chosen = registry.all();
      } else if (const auto* spec = registry.find(*name)) {
        chosen.push_back(spec);
      } else {
        throw UsageError(fmt::format("no kernel named '{}'; `tilefork kernels` lists them", *name));
      }
      if (*json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto* spec : chosen) list.push_back(to_json(*spec));
        fmt::print("{}\n", (name->empty() ? list : list[0]).dump(2));
      } else if (name->empty()) {
        for (const auto* spec : chosen) fmt::print("{:<10} {}\n", spec->name, spec->summary);
        fmt::print("\n`tilefork kernels NAME` shows a kernel's parameters.\n");
      } else {
        print_details(*chosen[0]);
      }
      return kExitOk;
    };
  });
}

}  // namespace tilefork::app
