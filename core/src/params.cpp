// Parameter values parsed from pipeline text and checked against a kernel's table.
#include "tilefork/errors.hpp"
#include "tilefork/kernel.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cmath>
#include <opencv2/core.hpp>
#include <stdexcept>

namespace tilefork {
namespace {

std::string format_number(double value, ParamType type) {
  if (type == ParamType::integer) return fmt::format("{}", static_cast<long long>(value));
  return fmt::format("{:g}", value);
}

double parse_number(std::string_view kernel, const ParamSpec& spec, std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end || !std::isfinite(value)) {
    throw UsageError(fmt::format("{}: parameter '{}' takes a number, not '{}' ({})", kernel,
                                 spec.name, text, spec.help));
  }
  if (spec.type == ParamType::integer && value != std::floor(value)) {
    throw UsageError(fmt::format("{}: parameter '{}' takes a whole number, not '{}'", kernel,
                                 spec.name, text));
  }
  if (value < spec.min || value > spec.max) {
    throw UsageError(fmt::format("{}: parameter '{}' = {} is out of range: expected {}", kernel,
                                 spec.name, text, spec.describe_range()));
  }
  if (spec.odd && !(spec.min == 0 && value == 0) && static_cast<long long>(value) % 2 == 0) {
    throw UsageError(fmt::format("{}: parameter '{}' = {} must be odd{}", kernel, spec.name, text,
                                 spec.min == 0 ? " (or 0)" : ""));
  }
  return value;
}

std::vector<double> parse_numbers(std::string_view kernel, const ParamSpec& spec, std::string_view text) {
  std::vector<double> list;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find_first_of(",;", start);
    const auto piece = text.substr(start, end == std::string_view::npos ? text.npos : end - start);
    ParamSpec one = spec;
    one.type = ParamType::real;
    list.push_back(parse_number(kernel, one, piece));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return list;
}

double parse_choice(std::string_view kernel, const ParamSpec& spec, std::string_view text) {
  for (std::size_t i = 0; i < spec.choices.size(); ++i) {
    if (spec.choices[i] == text) return static_cast<double>(i);
  }
  throw UsageError(fmt::format("{}: parameter '{}' = '{}' is not one of: {}", kernel, spec.name,
                               text, fmt::join(spec.choices, ", ")));
}

}  // namespace

std::string ParamSpec::describe_default() const {
  if (type == ParamType::choice) return std::string(choices.at(static_cast<std::size_t>(default_value)));
  if (type == ParamType::numbers) return default_text.empty() ? "(none)" : default_text;
  return format_number(default_value, type);
}

std::string ParamSpec::describe_range() const {
  if (type == ParamType::choice) return fmt::format("{}", fmt::join(choices, "|"));
  if (type == ParamType::numbers) {
    return fmt::format("list of {}..{}", format_number(min, ParamType::real), format_number(max, ParamType::real));
  }
  return fmt::format("{}..{}{}", format_number(min, type), format_number(max, type),
                     odd ? (min == 0 ? ", odd or 0" : ", odd") : "");
}

Params::Params(std::string_view kernel, std::span<const ParamSpec> table,
               const std::vector<std::pair<std::string, std::string>>& assignments) {
  values_.reserve(table.size());
  for (const auto& spec : table) {
    values_.push_back({&spec, spec.default_value,
                       spec.type == ParamType::numbers && !spec.default_text.empty()
                           ? parse_numbers(kernel, spec, spec.default_text)
                           : std::vector<double>{}});
  }
  for (const auto& [name, text] : assignments) {
    auto it = std::find_if(values_.begin(), values_.end(),
                           [&](const Value& v) { return v.spec->name == name; });
    if (it == values_.end()) {
      std::vector<std::string_view> names;
      for (const auto& spec : table) names.push_back(spec.name);
      throw UsageError(fmt::format("{}: unknown parameter '{}' (it takes: {})", kernel, name,
                                   names.empty() ? "no parameters" : fmt::format("{}", fmt::join(names, ", "))));
    }
    switch (it->spec->type) {
      case ParamType::choice: it->number = parse_choice(kernel, *it->spec, text); break;
      case ParamType::numbers: it->list = parse_numbers(kernel, *it->spec, text); break;
      default: it->number = parse_number(kernel, *it->spec, text); break;
    }
  }
}

const Params::Value& Params::find(std::string_view name, ParamType type) const {
  for (const auto& value : values_) {
    if (value.spec->name == name && value.spec->type == type) return value;
  }
  throw std::out_of_range(fmt::format("kernel has no parameter '{}' of that type", name));
}

int Params::integer(std::string_view name) const {
  return static_cast<int>(find(name, ParamType::integer).number);
}

double Params::real(std::string_view name) const { return find(name, ParamType::real).number; }

std::string_view Params::choice(std::string_view name) const {
  const auto& value = find(name, ParamType::choice);
  return value.spec->choices.at(static_cast<std::size_t>(value.number));
}

const std::vector<double>& Params::numbers(std::string_view name) const {
  return find(name, ParamType::numbers).list;
}

std::string Params::describe() const {
  std::vector<std::string> parts;
  for (const auto& value : values_) {
    const auto& spec = *value.spec;
    std::string text;
    switch (spec.type) {
      case ParamType::choice: text = spec.choices.at(static_cast<std::size_t>(value.number)); break;
      case ParamType::numbers: text = fmt::format("{:g}", fmt::join(value.list, ",")); break;
      default: text = format_number(value.number, spec.type); break;
    }
    parts.push_back(fmt::format("{}={}", spec.name, text));
  }
  return fmt::format("{}", fmt::join(parts, " "));
}

int FrameType::cv_type() const { return CV_MAKETYPE(depth, channels); }

std::string describe_inputs(const KernelSpec& spec) {
  std::vector<std::string> depths;
  for (int depth : spec.depths) {
    const std::string name = to_string(FrameType{depth, 1});
    depths.push_back(name.substr(0, name.rfind(' ')));
  }
  return fmt::format("{} frames of {} channels", fmt::join(depths, ", "), fmt::join(spec.channels, ", "));
}

std::string to_string(FrameType type) {
  const char* depth = "unknown-depth";
  switch (type.depth) {
    case CV_8U: depth = "8-bit"; break;
    case CV_8S: depth = "8-bit signed"; break;
    case CV_16U: depth = "16-bit"; break;
    case CV_16S: depth = "16-bit signed"; break;
    case CV_32S: depth = "32-bit integer"; break;
    case CV_32F: depth = "32-bit float"; break;
    case CV_64F: depth = "64-bit float"; break;
    default: break;
  }
  return fmt::format("{} {}-channel", depth, type.channels);
}

}  // namespace tilefork
