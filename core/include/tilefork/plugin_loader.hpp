// Loading plugins (plugin.h) into the kernel registry, in the coordinator, before any fork.
#pragma once

#include <string>
#include <vector>

namespace tilefork {

// Loads one plugin library and registers its kernels next to the built-ins. All or nothing: a
// plugin whose table has a fault registers none of its kernels. Loading the same file twice is
// a no-op. Call it before any executor runs (workers inherit what is loaded when they are forked);
// not thread-safe. A plugin is never unloaded: forked workers and threads may run its code until
// the process exits.
// Throws UsageError naming the plugin, and the kernel at fault, when the file cannot be loaded,
// lacks the entry point, reports another ABI version, has a malformed table, or declares a kernel
// whose name is taken (saying by whom: built-in or which plugin).
void load_plugin(const std::string& path);

// Loads a plugin file, or every *.so file directly in a folder (sorted by name). Throws as
// load_plugin, and UsageError when the path does not exist.
void load_plugins_at(const std::string& path);

// Loads what TILEFORK_PLUGIN_PATH lists: files or folders separated by ':' (empty entries are
// skipped); nothing when it is unset. Throws as load_plugins_at, naming the variable.
void load_plugins_from_env();

// A plugin loaded so far.
struct LoadedPlugin {
  std::string path;
  std::string name;                  // as the plugin calls itself
  std::vector<std::string> kernels;  // the kernels it registered
};
// In load order. Does not throw (but may throw std::bad_alloc).
std::vector<LoadedPlugin> loaded_plugins();

}  // namespace tilefork
