// The `tilefork` command: parses the command line and runs the chosen subcommand.
#include "commands.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/kernel.hpp"
#include "tilefork/plugin_loader.hpp"

#include <fmt/format.h>

#include <opencv2/core/utility.hpp>

int main(int argc, char** argv) {
  using namespace tilefork;
  // Before any other OpenCV call: the coordinator must stay single-threaded so it can fork.
  cv::setNumThreads(0);
  register_builtin_kernels();

  CLI::App app{"tilefork: image-processing pipelines on many cores, with processes and one shared-memory segment"};
  app.set_version_flag("--version", fmt::format("tilefork {}", TILEFORK_VERSION));
  app.require_subcommand(1);
  // --plugin belongs to the main command; subcommands pass what they do not know up to it, so it
  // may come before or after the subcommand's name.
  app.fallthrough();
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins,
                 "load kernels from a plugin (a .so file, or a folder of them); repeatable. "
                 "TILEFORK_PLUGIN_PATH lists more, separated by ':'")
      ->allow_extra_args(false);
  std::function<int()> action;
  app::add_run_command(app, action);
  app::add_kernels_command(app, action);
  app::add_timeline_command(app, action);
  app::add_bench_command(app, action);
  app::add_top_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? app::kExitOk : app::kExitUsage;
  }
  try {
    // Before the subcommand runs, so before any fork: every worker inherits the plugins' code.
    load_plugins_from_env();
    for (const auto& path : plugins) load_plugins_at(path);
    return action();
  } catch (const UsageError& error) {
    fmt::print(stderr, "tilefork: error: {}\n", error.what());
    return app::kExitUsage;
  } catch (const SystemError& error) {
    fmt::print(stderr, "tilefork: error: {}\n", error.describe());
    return app::kExitFailure;
  } catch (const std::exception& error) {
    fmt::print(stderr, "tilefork: error: {}\n", error.what());
    return app::kExitFailure;
  }
}
