// `tilefork timeline TRACE.json -o OUT.png`: a trace drawn as a picture, for READMEs and reports
// where Perfetto is not at hand.
#include "timeline.hpp"

#include "commands.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/frame_io.hpp"

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

namespace tilefork::app {
namespace {

constexpr int kLabelWidth = 190;
constexpr int kRowHeight = 26;
constexpr int kLegendHeight = 34;
constexpr int kAxisHeight = 44;
constexpr int kMargin = 12;
const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kGrid(225, 225, 225);

std::string first_word(const std::string& text) { return text.substr(0, text.find(' ')); }

// A round step (1, 2 or 5 times a power of ten) that puts about `wanted` ticks over `span`.
double tick_step(double span, int wanted) {
  const double raw = span / std::max(1, wanted);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= factor * power) return factor * power;
  }
  return 10 * power;
}

void text(cv::Mat& image, const std::string& words, cv::Point at, double scale = 0.45) {
  cv::putText(image, words, at, cv::FONT_HERSHEY_SIMPLEX, scale, kInk, 1, cv::LINE_AA);
}

}  // namespace

cv::Scalar category_colour(std::size_t index) {
  // Distinct, print-friendly colours (BGR), then repeated.
  static const cv::Scalar palette[] = {{180, 119, 31}, {44, 160, 44},  {14, 127, 255}, {40, 39, 214},
                                       {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                                       {34, 189, 188},  {207, 190, 23}};
  return palette[index % std::size(palette)];
}

Timeline read_timeline(const nlohmann::json& trace) {
  const nlohmann::json* events = &trace;
  if (trace.is_object() && trace.contains("traceEvents")) events = &trace["traceEvents"];
  if (!events->is_array()) {
    throw UsageError("not a Chrome trace: expected {\"traceEvents\": [...]} or an array of events");
  }
  // Rows keyed by (pid, tid); names from metadata events.
  std::map<std::pair<long long, long long>, TimelineRow> rows;
  std::map<long long, std::string> process_names;
  std::map<std::pair<long long, long long>, std::string> thread_names;
  std::map<std::string, std::size_t> category_index;
  Timeline timeline;
  timeline.start_us = std::numeric_limits<double>::infinity();
  timeline.end_us = -std::numeric_limits<double>::infinity();
  for (const auto& event : *events) {
    if (!event.is_object()) continue;
    const std::string phase = event.value("ph", "");
    const long long pid = event.contains("pid") && event["pid"].is_number() ? event["pid"].get<long long>() : 0;
    const long long tid = event.contains("tid") && event["tid"].is_number() ? event["tid"].get<long long>() : 0;
    if (phase == "M") {
      const std::string name = event.contains("args") ? event["args"].value("name", "") : "";
      if (event.value("name", "") == "process_name") process_names[pid] = name;
      if (event.value("name", "") == "thread_name") thread_names[{pid, tid}] = name;
      continue;
    }
    if (phase != "X" || !event.contains("ts") || !event["ts"].is_number()) continue;
    TimelineBox box;
    box.start_us = event["ts"].get<double>();
    box.duration_us = event.contains("dur") && event["dur"].is_number() ? event["dur"].get<double>() : 0;
    box.category = event.contains("cat") && event["cat"].is_string() ? event["cat"].get<std::string>()
                                                                      : first_word(event.value("name", "event"));
    // Tiles are told apart by stage, as `run --trace` writes them: a pipeline's stages are what
    // a user compares on the timeline.
    const nlohmann::json* args = event.contains("args") && event["args"].is_object() ? &event["args"] : nullptr;
    if (box.category == "tile" && args != nullptr && args->contains("stage") && (*args)["stage"].is_number_integer() &&
        args->contains("kernel") && (*args)["kernel"].is_string()) {
      box.category = fmt::format("stage {} {}", (*args)["stage"].get<long long>(), (*args)["kernel"].get<std::string>());
    }
    if (category_index.emplace(box.category, timeline.categories.size()).second) {
      timeline.categories.push_back(box.category);
    }
    timeline.start_us = std::min(timeline.start_us, box.start_us);
    timeline.end_us = std::max(timeline.end_us, box.start_us + box.duration_us);
    rows[{pid, tid}].boxes.push_back(std::move(box));
  }
  if (rows.empty()) throw UsageError("the trace holds no complete (\"X\") events to draw");
  std::map<long long, int> threads_of;
  for (const auto& entry : rows) ++threads_of[entry.first.first];
  for (auto& [key, row] : rows) {
    const auto process = process_names.find(key.first);
    row.label = process != process_names.end() ? process->second : fmt::format("pid {}", key.first);
    // A process with several threads gets a row per thread, told apart by the thread's name.
    const auto thread = thread_names.find(key);
    if (threads_of[key.first] > 1) {
      row.label += thread != thread_names.end() ? " / " + thread->second : fmt::format(" / tid {}", key.second);
    }
    timeline.rows.push_back(std::move(row));
  }
  return timeline;
}

cv::Mat render_timeline(const Timeline& timeline, int width) {
  width = std::max(width, 400);
  const int rows = static_cast<int>(timeline.rows.size());
  const int height = kMargin + kLegendHeight + rows * kRowHeight + kAxisHeight;
  cv::Mat image(height, width, CV_8UC3, cv::Scalar::all(255));
  const int left = kLabelWidth;
  const int right = width - kMargin;
  const int top = kMargin + kLegendHeight;
  const double span = std::max(timeline.end_us - timeline.start_us, 1.0);
  const auto x_of = [&](double us) {
    return left + static_cast<int>(std::lround((us - timeline.start_us) / span * (right - left)));
  };

  // Legend: a swatch and the name of each category.
  int x = left;
  for (std::size_t i = 0; i < timeline.categories.size(); ++i) {
    cv::rectangle(image, cv::Rect(x, kMargin + 6, 14, 14), category_colour(i), cv::FILLED);
    text(image, timeline.categories[i], {x + 18, kMargin + 18});
    int baseline = 0;
    x += 18 + cv::getTextSize(timeline.categories[i], cv::FONT_HERSHEY_SIMPLEX, 0.45, 1, &baseline).width + 16;
  }

  // Time grid and axis, in milliseconds from the first event.
  const double step_ms = tick_step(span / 1000, 8);
  for (double ms = 0; ms <= span / 1000 + 1e-9; ms += step_ms) {
    const int at = x_of(timeline.start_us + ms * 1000);
    cv::line(image, {at, top}, {at, top + rows * kRowHeight}, kGrid, 1);
    cv::line(image, {at, top + rows * kRowHeight}, {at, top + rows * kRowHeight + 5}, kInk, 1);
    text(image, fmt::format("{:g}", ms), {at - 8, top + rows * kRowHeight + 20});
  }
  text(image, "ms", {right - 20, top + rows * kRowHeight + 38});

  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < timeline.categories.size(); ++i) index[timeline.categories[i]] = i;
  for (int r = 0; r < rows; ++r) {
    const TimelineRow& row = timeline.rows[static_cast<std::size_t>(r)];
    const int y = top + r * kRowHeight;
    text(image, row.label.substr(0, 26), {kMargin, y + kRowHeight - 9});
    for (const TimelineBox& box : row.boxes) {
      const int x0 = x_of(box.start_us);
      const int x1 = std::max(x0 + 1, x_of(box.start_us + box.duration_us));  // every task shows
      // A box wide enough keeps a white pixel at its end, so that back-to-back tasks of one
      // kind read as separate tasks, not one long one.
      const int drawn = x1 - x0 >= 4 ? x1 - x0 - 1 : x1 - x0;
      cv::rectangle(image, cv::Rect(x0, y + 3, drawn, kRowHeight - 6), category_colour(index[box.category]),
                    cv::FILLED);
    }
  }
  cv::line(image, {left, top + rows * kRowHeight}, {right, top + rows * kRowHeight}, kInk, 1);
  return image;
}

void add_timeline_command(CLI::App& app, std::function<int()>& action) {
  struct Arguments {
    std::string trace;
    std::string output;
    int width = 1600;
  };
  auto arguments = std::make_shared<Arguments>();
  auto* command = app.add_subcommand("timeline", "draw a trace (from run --trace) as a PNG timeline");
  command->add_option("trace", arguments->trace, "the trace file (Chrome trace event JSON)")->required();
  command->add_option("-o,--output", arguments->output, "the PNG to write")->required();
  command->add_option("--width", arguments->width, "picture width in pixels")->check(CLI::Range(400, 20000))
      ->capture_default_str();
  command->callback([&action, arguments] {
    action = [arguments] {
      std::ifstream file(arguments->trace);
      if (!file) throw UsageError(fmt::format("cannot read trace '{}': no such file or not readable", arguments->trace));
      nlohmann::json trace;
      try {
        trace = nlohmann::json::parse(file);
      } catch (const nlohmann::json::exception& error) {
        throw UsageError(fmt::format("trace '{}' is not JSON: {}", arguments->trace, error.what()));
      }
      Timeline timeline;
      try {
        timeline = read_timeline(trace);
      } catch (const UsageError& error) {
        throw UsageError(fmt::format("trace '{}': {}", arguments->trace, error.what()));
      }
      store_image(render_timeline(timeline, arguments->width), arguments->output);
      return kExitOk;
    };
  });
}

}  // namespace tilefork::app
