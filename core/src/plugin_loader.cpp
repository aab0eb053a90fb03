// Plugins: dlopen, the ABI check, validation of the C table, and registration of its kernels.
#include "tilefork/plugin_loader.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/kernel.hpp"
#include "tilefork/plugin.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

constexpr std::size_t kErrorSize = 1024;
constexpr std::string_view kPathHint =
    "check the path (--plugin and TILEFORK_PLUGIN_PATH take plugin .so files, or folders of them)";

// What has been loaded: to say who holds a kernel name, and to load a file only once. Lives
// for the process, like the registry it feeds and like the libraries themselves.
struct PluginSet {
  std::vector<LoadedPlugin> plugins;
  std::set<const void*> handles;
};

PluginSet& plugin_set() {
  static PluginSet set;
  return set;
}

std::string text_of(const char* text) { return text == nullptr ? std::string() : std::string(text); }

bool is_one_word(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return c > ' ' && c != '|' && c != '=' && c != 0x7f;
  });
}

// A plugin kernel as tilefork holds it: the C table row (function pointers into the plugin, which
// stays loaded) and the parameter table read from it, in the order values cross.
struct PluginKernel {
  tf_kernel c;
  std::vector<ParamSpec> table;
  std::string where;  // "kernel 'x' of plugin 'path'", for messages
};

// The values of `params` as they cross: one tf_value per table row, in table order. Lists point
// into `params`, which outlives the call they are made for.
std::vector<tf_value> values_of(const std::vector<ParamSpec>& table, const Params& params) {
  std::vector<tf_value> values(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const ParamSpec& spec = table[i];
    tf_value& value = values[i];
    switch (spec.type) {
      case ParamType::integer: value.number = params.integer(spec.name); break;
      case ParamType::real: value.number = params.real(spec.name); break;
      case ParamType::choice: {
        const auto word = params.choice(spec.name);
        const auto it = std::find(spec.choices.begin(), spec.choices.end(), word);
        value.number = static_cast<double>(it - spec.choices.begin());
        break;
      }
      case ParamType::numbers: {
        const auto& list = params.numbers(spec.name);
        value.list = list.data();
        value.list_size = list.size();
        break;
      }
    }
  }
  return values;
}

tf_image image_of(const cv::Mat& mat) {
  tf_image image{};
  image.data = const_cast<unsigned char*>(mat.data);  // a source is read-only by contract (plugin.h)
  image.rows = mat.rows;
  image.cols = mat.cols;
  image.depth = mat.depth();
  image.channels = mat.channels();
  image.step = mat.step[0];
  return image;
}

std::string message_of(char (&error)[kErrorSize], std::string_view fallback) {
  error[kErrorSize - 1] = '\0';  // in case the plugin wrote a full buffer without a terminator
  return error[0] != '\0' ? std::string(error) : std::string(fallback);
}

bool is_depth(int depth) { return depth >= CV_8U && depth <= CV_64F; }
bool is_channel_count(int channels) { return channels >= 1 && channels <= CV_CN_MAX; }

// One row of a plugin's parameter table, checked. `where` names the kernel for messages.
ParamSpec read_param(const std::string& where, const tf_param& row, std::size_t index) {
  auto fault = [&](std::string_view what) {
    return UsageError(fmt::format("{}: parameter {} ('{}') {}", where, index + 1, text_of(row.name), what));
  };
  ParamSpec spec;
  spec.name = text_of(row.name);
  if (!is_one_word(spec.name)) throw fault("has no name, or one that is not a single word");
  spec.help = text_of(row.help);
  spec.default_value = row.default_value;
  spec.min = row.min;
  spec.max = row.max;
  spec.odd = row.odd != 0;
  switch (row.type) {
    case TF_PARAM_INTEGER: spec.type = ParamType::integer; break;
    case TF_PARAM_REAL: spec.type = ParamType::real; break;
    case TF_PARAM_CHOICE: spec.type = ParamType::choice; break;
    case TF_PARAM_NUMBERS: spec.type = ParamType::numbers; break;
    default: throw fault(fmt::format("has an unknown type {}", row.type));
  }
  if (spec.odd && spec.type != ParamType::integer) throw fault("is marked odd but is not an integer");
  if (spec.type == ParamType::choice) {
    if (row.choice_count == 0 || row.choices == nullptr) throw fault("is a choice without choices");
    for (std::size_t i = 0; i < row.choice_count; ++i) {
      if (row.choices[i] == nullptr || !is_one_word(row.choices[i])) {
        throw fault(fmt::format("has choice {} empty or not a single word", i + 1));
      }
      spec.choices.emplace_back(row.choices[i]);
    }
    if (spec.default_value != std::floor(spec.default_value) || spec.default_value < 0 ||
        spec.default_value >= static_cast<double>(spec.choices.size())) {
      throw fault("has a default that is not the index of one of its choices");
    }
    return spec;
  }
  if (!std::isfinite(spec.min) || !std::isfinite(spec.max) || spec.min > spec.max) {
    throw fault(fmt::format("has an invalid range {}..{}", spec.min, spec.max));
  }
  if (spec.type == ParamType::numbers) {
    spec.default_text = text_of(row.default_text);  // parsed with the whole table, by the caller
    return spec;
  }
  if (!std::isfinite(spec.default_value) || spec.default_value < spec.min || spec.default_value > spec.max) {
    throw fault(fmt::format("has a default {} outside its range {}", spec.default_value, spec.describe_range()));
  }
  if (spec.type == ParamType::integer) {
    // Params hands integers to kernels as int.
    if (spec.min < INT_MIN || spec.max > INT_MAX || spec.min != std::floor(spec.min) ||
        spec.max != std::floor(spec.max) || spec.default_value != std::floor(spec.default_value)) {
      throw fault("is an integer whose range or default is not whole numbers within int");
    }
    if (spec.odd && !(spec.min == 0 && spec.default_value == 0) &&
        static_cast<long long>(spec.default_value) % 2 == 0) {
      throw fault("is marked odd but its default is even");
    }
  }
  return spec;
}

// The host's view of one kernel of a plugin: a KernelSpec whose functions call into the plugin.
KernelSpec read_kernel(const std::string& plugin_path, const tf_kernel& row, std::size_t index) {
  const std::string name = text_of(row.name);
  const std::string where = fmt::format("plugin '{}': kernel {} ('{}')", plugin_path, index + 1, name);
  auto fault = [&](std::string_view what) { return UsageError(fmt::format("{} {}", where, what)); };
  if (!is_one_word(name)) throw fault("has no name, or one that is not a single word");
  if (row.apply == nullptr) throw fault("has no apply function");
  if ((row.flags & ~static_cast<unsigned>(TF_KERNEL_POINTWISE | TF_KERNEL_WHOLE_FRAME)) != 0) {
    throw fault(fmt::format("has unknown flags {:#x}", row.flags));
  }
  if (row.depth_count == 0 || row.depths == nullptr) throw fault("accepts no depth");
  if (row.channel_count == 0 || row.channels == nullptr) throw fault("accepts no channel count");
  if (row.param_count > 0 && row.params == nullptr) throw fault("has a parameter count but no parameters");

  auto kernel = std::make_shared<PluginKernel>();
  kernel->c = row;
  kernel->where = fmt::format("kernel '{}' of plugin '{}'", name, plugin_path);
  for (std::size_t i = 0; i < row.param_count; ++i) {
    ParamSpec param = read_param(where, row.params[i], i);
    if (std::any_of(kernel->table.begin(), kernel->table.end(), [&](const ParamSpec& p) { return p.name == param.name; })) {
      throw fault(fmt::format("has two parameters named '{}'", param.name));
    }
    kernel->table.push_back(std::move(param));
  }
  try {
    (void)Params(where, kernel->table, {});  // the defaults of lists parse
  } catch (const UsageError& error) {
    throw UsageError(fmt::format("{} (its defaults)", error.what()));
  }

  KernelSpec spec;
  spec.name = name;
  spec.summary = text_of(row.summary);
  spec.params = kernel->table;
  spec.depths.assign(row.depths, row.depths + row.depth_count);
  spec.channels.assign(row.channels, row.channels + row.channel_count);
  if (!std::all_of(spec.depths.begin(), spec.depths.end(), is_depth)) throw fault("accepts a depth that is not an OpenCV depth code");
  if (!std::all_of(spec.channels.begin(), spec.channels.end(), is_channel_count)) throw fault("accepts an impossible channel count");
  spec.pointwise = (row.flags & TF_KERNEL_POINTWISE) != 0;
  spec.whole_frame = (row.flags & TF_KERNEL_WHOLE_FRAME) != 0;

  // Each function below calls into the plugin and turns its error status into an exception: a
  // UsageError for what the pipeline is checked with, a runtime_error (a tile error) for apply.
  if (row.halo != nullptr) {
    spec.halo = [kernel](const Params& params) {
      const auto values = values_of(kernel->table, params);
      const int radius = kernel->c.halo(kernel->c.context, values.data());
      if (radius < 0) {
        throw UsageError(fmt::format("{} cannot compute its halo for {}", kernel->where, params.describe()));
      }
      return radius;
    };
  }
  if (row.output_type != nullptr) {
    spec.output_type = [kernel](FrameType input, const Params& params) {
      const auto values = values_of(kernel->table, params);
      char error[kErrorSize] = {};
      FrameType output;
      if (kernel->c.output_type(kernel->c.context, values.data(), input.depth, input.channels, &output.depth,
                                &output.channels, error, sizeof error) != 0) {
        throw UsageError(message_of(error, fmt::format("{} refuses it without saying why", kernel->where)));
      }
      if (!is_depth(output.depth) || !is_channel_count(output.channels)) {
        throw UsageError(fmt::format("{} answered an impossible output type (depth {}, {} channels)", kernel->where,
                                     output.depth, output.channels));
      }
      return output;
    };
  }
  if (row.output_size != nullptr) {
    spec.output_size = [kernel](cv::Size input, const Params& params) {
      const auto values = values_of(kernel->table, params);
      char error[kErrorSize] = {};
      int rows = 0;
      int cols = 0;
      if (kernel->c.output_size(kernel->c.context, values.data(), input.height, input.width, &rows, &cols, error,
                                sizeof error) != 0) {
        throw UsageError(message_of(error, fmt::format("{} cannot size its output", kernel->where)));
      }
      return cv::Size(cols, rows);
    };
  }
  spec.apply = [kernel](const cv::Mat& src, cv::Mat& dst, const Params& params) {
    const auto values = values_of(kernel->table, params);
    const tf_image input = image_of(src);
    tf_image output = image_of(dst);
    char error[kErrorSize] = {};
    if (kernel->c.apply(kernel->c.context, &input, &output, values.data(), error, sizeof error) != 0) {
      throw std::runtime_error(message_of(error, "the kernel failed without saying why"));
    }
  };
  return spec;
}

// Who holds a kernel name: a plugin loaded before, or else a built-in.
std::string owner_of(std::string_view kernel) {
  for (const auto& plugin : plugin_set().plugins) {
    if (std::find(plugin.kernels.begin(), plugin.kernels.end(), kernel) != plugin.kernels.end()) {
      return fmt::format("plugin '{}' ({})", plugin.name, plugin.path);
    }
  }
  return "a built-in kernel";
}

// dlerror() usually starts with the file name, which the message already gives.
std::string loader_error(const std::string& path) {
  const char* error = dlerror();
  std::string text = error == nullptr ? "unknown error" : error;
  if (text.starts_with(path + ": ")) text.erase(0, path.size() + 2);
  return text;
}

}  // namespace

void load_plugin(const std::string& path) {
  // Without a slash dlopen would search the library path instead of the current folder.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  // RTLD_LOCAL: a plugin's symbols do not leak into other plugins. Never dlclose: forked workers
  // and executor threads call its functions until the process exits, and the registry holds
  // pointers into it.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw UsageError(fmt::format("cannot load plugin '{}': {}; {}", path, loader_error(file), kPathHint));
  }
  PluginSet& loaded = plugin_set();
  if (loaded.handles.contains(handle)) return;  // the same file again (another path, or env and --plugin)

  dlerror();
  void* symbol = dlsym(handle, TILEFORK_PLUGIN_ENTRY);
  if (symbol == nullptr) {
    throw UsageError(fmt::format("plugin '{}' has no entry point '{}': it is not a tilefork plugin, or it does "
                                 "not export the function (declare it extern \"C\" TILEFORK_EXPORT, see "
                                 "tilefork/plugin.h)",
                                 path, TILEFORK_PLUGIN_ENTRY));
  }
  const auto entry = reinterpret_cast<tf_plugin_entry>(symbol);
  const tf_plugin* table = nullptr;
  try {
    table = entry();
  } catch (...) {
    // A C++ entry point that throws (a table that failed to build): not supposed to cross, but
    // it would otherwise end the program without a word.
    throw UsageError(fmt::format("plugin '{}': its entry point '{}' threw an exception", path, TILEFORK_PLUGIN_ENTRY));
  }
  if (table == nullptr) {
    throw UsageError(fmt::format("plugin '{}': its entry point '{}' returned no table", path, TILEFORK_PLUGIN_ENTRY));
  }
  // The version says how to read the rest, so it is the only member read before it is checked.
  if (table->abi_version != TILEFORK_PLUGIN_ABI_VERSION) {
    throw UsageError(fmt::format("plugin '{}' was built for plugin ABI {}, this tilefork speaks {}: rebuild it "
                                 "against this tilefork",
                                 path, table->abi_version, TILEFORK_PLUGIN_ABI_VERSION));
  }
  LoadedPlugin plugin{path, text_of(table->name), {}};
  if (!is_one_word(plugin.name)) {
    throw UsageError(fmt::format("plugin '{}' has no name, or one that is not a single word", path));
  }
  if (table->kernel_count > 0 && table->kernels == nullptr) {
    throw UsageError(fmt::format("plugin '{}' has a kernel count but no kernels", path));
  }

  // All or nothing: read and check every kernel before registering any.
  auto& registry = KernelRegistry::instance();
  std::vector<KernelSpec> specs;
  for (std::size_t i = 0; i < table->kernel_count; ++i) {
    KernelSpec spec = read_kernel(path, table->kernels[i], i);
    if (std::any_of(specs.begin(), specs.end(), [&](const KernelSpec& s) { return s.name == spec.name; })) {
      throw UsageError(fmt::format("plugin '{}' declares kernel '{}' twice", path, spec.name));
    }
    if (registry.find(spec.name) != nullptr) {
      throw UsageError(fmt::format("plugin '{}' declares kernel '{}', but that name is taken by {}: rename the "
                                   "kernel, or leave one of them out",
                                   path, spec.name, owner_of(spec.name)));
    }
    specs.push_back(std::move(spec));
  }
  for (const KernelSpec& spec : specs) {
    registry.add(spec);
    plugin.kernels.push_back(spec.name);
  }
  loaded.handles.insert(handle);
  loaded.plugins.push_back(std::move(plugin));
}

void load_plugins_at(const std::string& path) {
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) {
    throw UsageError(fmt::format("cannot load plugin '{}': no such file or folder; {}", path, kPathHint));
  }
  if (!fs::is_directory(status)) {
    load_plugin(path);
    return;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  }
  if (error) throw UsageError(fmt::format("cannot read plugin folder '{}': {}", path, error.message()));
  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_plugin(file.string());
}

void load_plugins_from_env() {
  const char* value = std::getenv("TILEFORK_PLUGIN_PATH");
  if (value == nullptr) return;
  const std::string_view list(value);
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto colon = list.find(':', start);
    const auto entry = list.substr(start, colon == std::string_view::npos ? list.npos : colon - start);
    if (!entry.empty()) {
      try {
        load_plugins_at(std::string(entry));
      } catch (const UsageError& error) {
        throw UsageError(fmt::format("TILEFORK_PLUGIN_PATH: {}", error.what()));
      }
    }
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
}

std::vector<LoadedPlugin> loaded_plugins() { return plugin_set().plugins; }

}  // namespace tilefork
