// Reading Chrome trace files back for tests, and the checks every trace test makes.
#include "common/trace_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <stdexcept>

namespace tilefork::test {

std::size_t ParsedTrace::tasks() const {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [](const TraceEvent& e) { return e.task(); }));
}

ParsedTrace parse_trace(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  const nlohmann::json json = nlohmann::json::parse(file);
  ParsedTrace trace;
  trace.other = json.value("otherData", nlohmann::json::object());
  for (const nlohmann::json& event : json.at("traceEvents")) {
    const std::string ph = event.at("ph");
    if (ph == "M") {
      if (event.at("name") == "process_name") trace.process_names[event.at("pid")] = event.at("args").at("name");
      continue;
    }
    if (ph != "X") throw std::runtime_error("unexpected event phase " + ph);
    TraceEvent parsed;
    parsed.name = event.at("name");
    parsed.cat = event.at("cat");
    parsed.begin_ns = std::llround(event.at("ts").get<double>() * 1000);
    parsed.end_ns = parsed.begin_ns + std::llround(event.at("dur").get<double>() * 1000);
    parsed.pid = event.at("pid");
    parsed.tid = event.at("tid");
    parsed.args = event.value("args", nlohmann::json::object());
    trace.events.push_back(std::move(parsed));
  }
  return trace;
}

std::string overlaps(const ParsedTrace& trace) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<const TraceEvent*>> tracks;
  for (const TraceEvent& event : trace.events) tracks[{event.pid, event.tid}].push_back(&event);
  for (auto& [track, events] : tracks) {
    std::sort(events.begin(), events.end(),
              [](const TraceEvent* a, const TraceEvent* b) { return a->begin_ns < b->begin_ns; });
    for (std::size_t i = 1; i < events.size(); ++i) {
      if (events[i]->begin_ns < events[i - 1]->end_ns) {
        return fmt::format("pid {} tid {}: {} [{}, {}] ns overlaps {} [{}, {}] ns", track.first, track.second,
                           events[i - 1]->name, events[i - 1]->begin_ns, events[i - 1]->end_ns, events[i]->name,
                           events[i]->begin_ns, events[i]->end_ns);
      }
    }
  }
  return {};
}

std::string tile_coverage(const ParsedTrace& trace, const ExpectedTiles& expected) {
  std::map<std::tuple<int, int, int>, int> seen;
  for (const TraceEvent& event : trace.events) {
    if (event.cat != "tile") continue;
    const int frame = event.args.at("frame");
    const int stage = event.args.at("stage");
    const int tile = event.args.at("tile");
    const auto grid = expected.find({frame, stage});
    if (grid == expected.end()) return fmt::format("tile event for frame {} stage {} not expected", frame, stage);
    if (tile < 0 || static_cast<std::uint32_t>(tile) >= grid->second.count()) {
      return fmt::format("frame {} stage {}: tile {} beyond the grid's {}", frame, stage, tile, grid->second.count());
    }
    const cv::Rect rect = grid->second.rect(static_cast<std::uint32_t>(tile));
    const cv::Rect traced(event.args.at("x"), event.args.at("y"), event.args.at("w"), event.args.at("h"));
    if (rect != traced) {
      return fmt::format("frame {} stage {} tile {}: traced at {},{} {}x{}, the grid says {},{} {}x{}", frame, stage,
                         tile, traced.x, traced.y, traced.width, traced.height, rect.x, rect.y, rect.width,
                         rect.height);
    }
    if (++seen[{frame, stage, tile}] > 1) return fmt::format("frame {} stage {} tile {} traced twice", frame, stage, tile);
  }
  for (const auto& [key, grid] : expected) {
    for (std::uint32_t t = 0; t < grid.count(); ++t) {
      if (!seen.contains({key.first, key.second, static_cast<int>(t)})) {
        return fmt::format("frame {} stage {} tile {} of {} missing", key.first, key.second, t, grid.count());
      }
    }
  }
  return {};
}

}  // namespace tilefork::test
