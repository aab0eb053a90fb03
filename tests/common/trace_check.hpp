// Reading a Chrome trace file back and checking it the way the issue states: one event per
// task, every tile once, no overlap within a worker.
#pragma once

#include "tilefork/tile.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tilefork::test {

struct TraceEvent {
  std::string name;
  std::string cat;
  std::int64_t begin_ns = 0;  // ts and dur read back to the nanosecond
  std::int64_t end_ns = 0;
  std::int64_t pid = 0;
  std::int64_t tid = 0;
  nlohmann::json args;
  bool task() const { return cat == "load" || cat == "tile" || cat == "store"; }
  double seconds() const { return static_cast<double>(end_ns - begin_ns) / 1e9; }
};

struct ParsedTrace {
  std::vector<TraceEvent> events;            // the complete ("X") events, in file order
  std::map<std::int64_t, std::string> process_names;
  nlohmann::json other;                      // otherData
  std::size_t tasks() const;
};

// Parses `path`; throws (nlohmann::json::exception, std::runtime_error) when it is not a trace
// event file: no traceEvents, an event without ph/ts/pid, an X event without dur.
ParsedTrace parse_trace(const std::string& path);

// Empty when no two events of one (pid, tid) track overlap; otherwise the first overlap.
std::string overlaps(const ParsedTrace& trace);

// The tiles each (frame, stage from 1) must have: the grid they were cut with.
using ExpectedTiles = std::map<std::pair<int, int>, TileGrid>;
// Empty when every tile of every expected (frame, stage) has exactly one event, with the grid's
// rectangle, and no other tile event exists; otherwise what is missing, doubled or extra.
std::string tile_coverage(const ParsedTrace& trace, const ExpectedTiles& expected);

}  // namespace tilefork::test
