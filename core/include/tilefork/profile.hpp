// What a run's trace says: the summary (per stage, per worker, where the time went) and the
// Chrome trace event file that Perfetto and chrome://tracing open. Definitions in README.md,
// "Profiling"; every figure is computed from the records alone, so it agrees with the trace.
#pragma once

#include "tilefork/executor.hpp"
#include "tilefork/trace.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace tilefork {

struct StageProfile {
  std::uint32_t stage = 0;  // 0-based; printed 1-based like error messages
  std::string kernel;
  std::uint64_t tasks = 0;
  double seconds = 0;     // summed time of its tiles, over all workers
  double megapixels = 0;  // output pixels of its tiles
  double megapixels_per_second() const { return seconds > 0 ? megapixels / seconds : 0; }  // per worker
};

// A worker index (or a thread of the threads executor), all its processes counted together.
struct WorkerProfile {
  std::uint32_t worker = 0;
  std::vector<std::int32_t> pids;  // more than one when it was replaced
  std::uint64_t tasks = 0;
  double wall = 0;    // from each process's first record's start to its last record's end, summed
  double busy = 0;    // in tasks
  double asleep = 0;  // on the work futex with nothing to claim
  double idle() const { return wall - busy; }
};

// Where the workers' wall time went; the parts add up to `total`.
struct TimeSplit {
  double load = 0;      // load tasks (decoding, copy into the segment)
  double filter = 0;    // tile tasks
  double write = 0;     // store tasks (encoding, writing)
  double waiting = 0;   // asleep with nothing to claim
  double start = 0;     // from fork to the first claim (mapping the segment)
  double dispatch = 0;  // the rest: claiming, finishing, publishing phases, between tasks
  double total = 0;
};

struct SlowTile {
  TraceRecord record;
  std::uint32_t worker = 0;
  double milliseconds() const { return static_cast<double>(record.end_ns - record.begin_ns) / 1e6; }
};

struct Profile {
  std::string executor;
  double seconds = 0;  // the traced span of the run
  std::uint64_t tasks = 0;
  std::vector<StageProfile> stages;
  std::vector<WorkerProfile> workers;
  double imbalance = 0;  // max busy / mean busy over workers (1 is perfect)
  std::vector<SlowTile> slowest_tiles;  // slowest first
  TimeSplit split;
  double dispatch_us_per_task = 0;  // split.dispatch / tasks, in microseconds
  double coordinator_decode = 0;    // seconds the coordinator decoded video frames
  double coordinator_encode = 0;    // ... encoded them
  double coordinator_wait = 0;      // ... slept waiting for events
  std::uint64_t ring_full_waits = 0;
  double serial_seconds = 0;  // the serial executor over the same inputs; 0: not measured
  double speedup() const { return serial_seconds > 0 && seconds > 0 ? serial_seconds / seconds : 0; }
};

// Computes the summary from the records of `trace` alone. Never throws except std::bad_alloc.
Profile summarize(const RunTrace& trace, const Pipeline& pipeline, std::size_t slowest_tiles = 5);

// Writes `trace` as Chrome trace event JSON to `path`, whole or not at all (AtomicFile): one
// complete ("X") event per record, one process per worker process named by metadata events
// ("worker 2 (pid 4711)"), the coordinator as its own process, and frame, input, stage (1-based),
// kernel, tile and its rectangle as arguments. Throws ImageError naming the path.
void write_chrome_trace(const RunTrace& trace, const Pipeline& pipeline, std::span<const WorkItem> items,
                        const std::string& path);

}  // namespace tilefork
