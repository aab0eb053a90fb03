// Writing a plugin in C++: ordinary KernelSpecs in, the C table of plugin.h out. Header-only.
//
//   extern "C" TILEFORK_EXPORT const tf_plugin* tilefork_plugin() {
//     static const tilefork::PluginTable table("myplugin", {my_kernel()});
//     return table.c_table();
//   }
//
// Each KernelSpec crosses as C function pointers (trampolines below) that rebuild its Params from
// the values tilefork sends, wrap the pixels as cv::Mat headers (no copy), and turn every exception
// into an error status and message: nothing C++ crosses the boundary, so a plugin and tilefork may
// be built by different compilers or standard libraries.
#pragma once

#include "tilefork/kernel.hpp"
#include "tilefork/plugin.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tilefork {

namespace plugin_detail {

// Copies `message` into the caller's buffer, cut to fit and always NUL-terminated.
inline void write_error(char* error, std::size_t error_size, const char* message) noexcept {
  if (error == nullptr || error_size == 0) return;
  const std::size_t length = std::min(std::strlen(message), error_size - 1);
  std::memcpy(error, message, length);
  error[length] = '\0';
}

// Runs `body`; returns 0, or 1 with the exception's message in `error`. No exception escapes.
template <class Body>
int guarded(char* error, std::size_t error_size, Body&& body) noexcept {
  try {
    body();
    return 0;
  } catch (const std::exception& failure) {
    write_error(error, error_size, failure.what());
  } catch (...) {
    write_error(error, error_size, "the kernel threw an exception that is not a std::exception");
  }
  return 1;
}

inline std::string number_text(double value, bool integer) {
  char buffer[64];
  // Shortest text that reads back to the same double, so the round trip below is exact.
  const auto result = integer ? std::to_chars(buffer, buffer + sizeof buffer, static_cast<long long>(value))
                              : std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// Rebuilds the Params tilefork checked (against the same table) from the values it sent.
// Params only takes text, so each value goes through its shortest exact text and back.
inline Params params_from_values(const KernelSpec& spec, const tf_value* values) {
  std::vector<std::pair<std::string, std::string>> assignments;
  for (std::size_t i = 0; i < spec.params.size(); ++i) {
    const ParamSpec& param = spec.params[i];
    const tf_value& value = values[i];
    switch (param.type) {
      case ParamType::integer:
        assignments.emplace_back(param.name, number_text(value.number, true));
        break;
      case ParamType::real:
        assignments.emplace_back(param.name, number_text(value.number, false));
        break;
      case ParamType::choice:
        assignments.emplace_back(param.name, param.choices.at(static_cast<std::size_t>(value.number)));
        break;
      case ParamType::numbers: {
        if (value.list_size == 0) break;  // no default and none given: stays empty
        std::string text;
        for (std::size_t j = 0; j < value.list_size; ++j) {
          if (j > 0) text += ',';
          text += number_text(value.list[j], false);
        }
        assignments.emplace_back(param.name, std::move(text));
        break;
      }
    }
  }
  return Params(spec.name, spec.params, assignments);
}

// A header over the caller's pixels.
inline cv::Mat mat_of(const tf_image& image) {
  return cv::Mat(image.rows, image.cols, CV_MAKETYPE(image.depth, image.channels), image.data, image.step);
}

}  // namespace plugin_detail

// The C table of a plugin, built from KernelSpecs and owning everything the table points to.
// Make it a function-local static in the entry point: it must outlive every call tilefork makes,
// and tilefork never unloads a plugin.
class PluginTable {
 public:
  PluginTable(std::string name, std::vector<KernelSpec> kernels) : name_(std::move(name)) {
    entries_.reserve(kernels.size());
    for (KernelSpec& spec : kernels) entries_.push_back(std::make_unique<Entry>(std::move(spec)));
    for (const auto& entry : entries_) c_kernels_.push_back(entry->c_kernel());
    c_plugin_.abi_version = TILEFORK_PLUGIN_ABI_VERSION;
    c_plugin_.name = name_.c_str();
    c_plugin_.kernel_count = c_kernels_.size();
    c_plugin_.kernels = c_kernels_.data();
  }
  PluginTable(const PluginTable&) = delete;
  PluginTable& operator=(const PluginTable&) = delete;

  // What the entry point returns. Does not throw.
  const tf_plugin* c_table() const noexcept { return &c_plugin_; }

 private:
  // One kernel: the spec, and the C views of its table (pointing into the spec).
  class Entry {
   public:
    explicit Entry(KernelSpec spec) : spec_(std::move(spec)) {
      for (const ParamSpec& param : spec_.params) {
        auto& words = choices_.emplace_back();
        for (const std::string& choice : param.choices) words.push_back(choice.c_str());
      }
      for (std::size_t i = 0; i < spec_.params.size(); ++i) {
        const ParamSpec& param = spec_.params[i];
        tf_param row{};
        row.name = param.name.c_str();
        row.type = static_cast<int>(param.type);
        row.default_value = param.default_value;
        row.min = param.min;
        row.max = param.max;
        row.help = param.help.c_str();
        row.choices = choices_[i].data();
        row.choice_count = choices_[i].size();
        row.default_text = param.default_text.c_str();
        row.odd = param.odd ? 1 : 0;
        params_.push_back(row);
      }
    }

    tf_kernel c_kernel() {
      tf_kernel kernel{};
      kernel.name = spec_.name.c_str();
      kernel.summary = spec_.summary.c_str();
      kernel.params = params_.data();
      kernel.param_count = params_.size();
      kernel.depths = spec_.depths.data();
      kernel.depth_count = spec_.depths.size();
      kernel.channels = spec_.channels.data();
      kernel.channel_count = spec_.channels.size();
      kernel.flags = (spec_.pointwise ? unsigned{TF_KERNEL_POINTWISE} : 0u) |
                     (spec_.whole_frame ? unsigned{TF_KERNEL_WHOLE_FRAME} : 0u);
      kernel.context = this;
      kernel.halo = spec_.halo ? &halo : nullptr;
      kernel.output_type = spec_.output_type ? &output_type : nullptr;
      kernel.output_size = spec_.output_size ? &output_size : nullptr;
      kernel.apply = &apply;
      return kernel;
    }

   private:
    static const KernelSpec& spec_of(void* context) { return static_cast<const Entry*>(context)->spec_; }

    static int halo(void* context, const tf_value* values) noexcept {
      int radius = -1;
      char ignored[1];
      plugin_detail::guarded(ignored, sizeof ignored, [&] {
        const KernelSpec& spec = spec_of(context);
        radius = spec.halo(plugin_detail::params_from_values(spec, values));
      });
      return radius;
    }

    static int output_type(void* context, const tf_value* values, int in_depth, int in_channels,
                           int* out_depth, int* out_channels, char* error, std::size_t error_size) noexcept {
      return plugin_detail::guarded(error, error_size, [&] {
        const KernelSpec& spec = spec_of(context);
        const FrameType type =
            spec.output_type(FrameType{in_depth, in_channels}, plugin_detail::params_from_values(spec, values));
        *out_depth = type.depth;
        *out_channels = type.channels;
      });
    }

    static int output_size(void* context, const tf_value* values, int in_rows, int in_cols, int* out_rows,
                           int* out_cols, char* error, std::size_t error_size) noexcept {
      return plugin_detail::guarded(error, error_size, [&] {
        const KernelSpec& spec = spec_of(context);
        const cv::Size size =
            spec.output_size(cv::Size(in_cols, in_rows), plugin_detail::params_from_values(spec, values));
        *out_rows = size.height;
        *out_cols = size.width;
      });
    }

    static int apply(void* context, const tf_image* src, tf_image* dst, const tf_value* values, char* error,
                     std::size_t error_size) noexcept {
      return plugin_detail::guarded(error, error_size, [&] {
        const KernelSpec& spec = spec_of(context);
        const Params params = plugin_detail::params_from_values(spec, values);
        const cv::Mat input = plugin_detail::mat_of(*src);
        cv::Mat output = plugin_detail::mat_of(*dst);
        spec.apply(input, output, params);
        if (output.data != dst->data) {
          throw std::logic_error("the kernel reallocated its output instead of writing into it");
        }
      });
    }

    KernelSpec spec_;
    std::vector<std::vector<const char*>> choices_;
    std::vector<tf_param> params_;
  };

  std::string name_;
  std::vector<std::unique_ptr<Entry>> entries_;  // stable addresses: each is a kernel's context
  std::vector<tf_kernel> c_kernels_;
  tf_plugin c_plugin_{};
};

}  // namespace tilefork
