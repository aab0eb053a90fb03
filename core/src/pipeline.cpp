// Pipeline text parsing, kernel resolution, type checking and plane assignment.
#include "tilefork/pipeline.hpp"

#include "tilefork/errors.hpp"
#include "tilefork/tile.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <sstream>

namespace tilefork {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\n");
  return text.substr(first, last - first + 1);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string unknown_kernel_message(std::size_t index, std::string_view name) {
  std::string suggestion;
  std::size_t best = 3;
  for (const auto* spec : KernelRegistry::instance().all()) {
    const auto distance = edit_distance(name, spec->name);
    if (distance < best) {
      best = distance;
      suggestion = fmt::format(" (did you mean '{}'?)", spec->name);
    }
  }
  return fmt::format("stage {}: unknown kernel '{}'{}; `tilefork kernels` lists them", index + 1,
                     name, suggestion);
}

Stage parse_stage(std::size_t index, std::string_view text) {
  std::istringstream words{std::string(text)};
  std::string name;
  words >> name;
  if (name.empty()) {
    throw UsageError(fmt::format("stage {} of the pipeline is empty: write stages as "
                                 "\"kernel key=value | kernel ...\"",
                                 index + 1));
  }
  const KernelSpec* kernel = KernelRegistry::instance().find(name);
  if (kernel == nullptr) throw UsageError(unknown_kernel_message(index, name));

  std::vector<std::pair<std::string, std::string>> assignments;
  for (std::string word; words >> word;) {
    const auto equals = word.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == word.size()) {
      throw UsageError(fmt::format("stage {} ({}): '{}' is not of the form key=value", index + 1,
                                   name, word));
    }
    std::string key = word.substr(0, equals);
    if (std::any_of(assignments.begin(), assignments.end(),
                    [&](const auto& kv) { return kv.first == key; })) {
      throw UsageError(fmt::format("stage {} ({}): parameter '{}' is given twice", index + 1,
                                   name, key));
    }
    assignments.emplace_back(std::move(key), word.substr(equals + 1));
  }
  Stage stage;
  stage.kernel = kernel;
  stage.params = Params(fmt::format("stage {} ({})", index + 1, name), kernel->params, assignments);
  stage.halo = kernel->pointwise || kernel->whole_frame || !kernel->halo ? 0 : kernel->halo(stage.params);
  return stage;
}

}  // namespace

std::string Stage::describe() const {
  const auto params_text = params.describe();
  return params_text.empty() ? std::string(kernel->name)
                             : fmt::format("{} {}", kernel->name, params_text);
}

Pipeline Pipeline::parse(std::string_view text) {
  if (trim(text).empty()) {
    throw UsageError("the pipeline is empty: give --pipeline \"kernel key=value | ...\" "
                     "(`tilefork kernels` lists the kernels)");
  }
  Pipeline pipeline;
  std::size_t start = 0;
  while (true) {
    const auto bar = text.find('|', start);
    const auto piece = text.substr(start, bar == std::string_view::npos ? text.npos : bar - start);
    if (pipeline.stages_.size() == kMaxStages) {
      throw UsageError(fmt::format("the pipeline has more than {} stages: split it into two runs", kMaxStages));
    }
    pipeline.stages_.push_back(parse_stage(pipeline.stages_.size(), trim(piece)));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return pipeline;
}

FramePlan Pipeline::plan(FrameType input, cv::Size size) const {
  FramePlan plan;
  plan.types.push_back(input);
  plan.sizes.push_back(size);
  int current = 0;
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const Stage& stage = stages_[i];
    FrameType output;
    const FrameType stage_input = plan.types.back();
    const KernelSpec& kernel = *stage.kernel;
    try {
      const bool depth_ok = std::find(kernel.depths.begin(), kernel.depths.end(), stage_input.depth) != kernel.depths.end();
      const bool channels_ok =
          std::find(kernel.channels.begin(), kernel.channels.end(), stage_input.channels) != kernel.channels.end();
      if (!depth_ok || !channels_ok) throw UsageError(fmt::format("it takes {}", describe_inputs(kernel)));
      output = kernel.output_type ? kernel.output_type(stage_input, stage.params) : stage_input;
    } catch (const UsageError& error) {
      const std::string after =
          i == 0 ? std::string("the input")
                 : fmt::format("stage {} ({})", i, stages_[i - 1].kernel->name);
      throw UsageError(fmt::format("stage {} ({}) cannot take {} from {}: {}", i + 1,
                                   stage.kernel->name, to_string(plan.types.back()), after,
                                   error.what()));
    }
    const int next = current == 1 ? 2 : 1;
    plan.in_plane.push_back(current);
    plan.out_plane.push_back(next);
    plan.types.push_back(output);
    const cv::Size input_size = plan.sizes.back();
    plan.sizes.push_back(stage.kernel->output_size ? stage.kernel->output_size(input_size, stage.params) : input_size);
    if (plan.sizes.back().width <= 0 || plan.sizes.back().height <= 0) {
      throw UsageError(fmt::format("stage {} ({}) would make a {}x{} frame of a {}x{} one", i + 1,
                                   stage.kernel->name, plan.sizes.back().width, plan.sizes.back().height,
                                   input_size.width, input_size.height));
    }
    // Pixels are counted in int (cv::Size::area, tile grids): a larger frame would wrap, and the
    // segment sized from the wrapped count would be too small for it.
    const auto pixels = static_cast<std::uint64_t>(plan.sizes.back().width) * static_cast<std::uint64_t>(plan.sizes.back().height);
    if (pixels > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      throw UsageError(fmt::format("stage {} ({}) would make a {}x{} frame of a {}x{} one: {} pixels, more than the "
                                   "{} a frame may have",
                                   i + 1, stage.kernel->name, plan.sizes.back().width, plan.sizes.back().height,
                                   input_size.width, input_size.height, pixels, std::numeric_limits<int>::max()));
    }
    plan.planes = std::max(plan.planes, next + 1);
    current = next;
  }
  return plan;
}

std::size_t FramePlan::max_plane_bytes() const {
  std::size_t bytes = 1;
  for (std::size_t i = 0; i < types.size(); ++i) {
    bytes = std::max(bytes, static_cast<std::size_t>(sizes[i].width) * static_cast<std::size_t>(sizes[i].height) *
                                static_cast<std::size_t>(CV_ELEM_SIZE(types[i].cv_type())));
  }
  return bytes;
}

std::uint32_t FramePlan::task_count(const Pipeline& pipeline, std::uint32_t stage, cv::Size tile) const {
  if (pipeline.stages().at(stage).kernel->whole_frame) return 1;
  return TileGrid(sizes.at(stage + 1), tile).count();
}

std::string Pipeline::describe() const {
  std::string text;
  for (const auto& stage : stages_) {
    if (!text.empty()) text += " | ";
    text += stage.describe();
  }
  return text;
}

}  // namespace tilefork
