// Executors run a pipeline over a batch: fork (the product), threads (oneTBB), serial (reference).
#pragma once

#include "tilefork/frame_io.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/segment.hpp"
#include "tilefork/trace.hpp"
#include "tilefork/video.hpp"

#include <opencv2/core/types.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tilefork {

enum class ExecutorKind { fork, threads, serial };
std::string_view to_string(ExecutorKind kind) noexcept;
ExecutorKind parse_executor(std::string_view text);  // throws UsageError naming the value

// One input of a batch and where its result goes. `info` comes from probe_image(); an item
// whose probe failed carries the reason in `error` and is reported failed without being run.
struct WorkItem {
  std::string input;
  std::string output;  // empty: the result is computed and not written (benchmarks)
  ImageInfo info;
  std::string error;
  cv::Mat image;  // when set, the frame itself, used instead of decoding `input` (benchmarks)
  int quality = -1;  // JPEG/WebP quality of the output, 1..100; -1: the format's default
  // A frame of a video: the frames of one video are consecutive items sharing its stream,
  // decoded and encoded in order by one process (the coordinator, for the fork executor) while
  // their tiles run everywhere. `input` and `output` are the video's; null for image files.
  // There is one item per frame the header announces (VideoInfo::frames); the item of the last
  // one also stands for any frames the stream holds after it (ItemResult::extra_frames).
  std::shared_ptr<VideoStream> video;
  std::uint32_t video_frame = 0;
};

// How far a run is, for progress displays.
struct Progress {
  std::size_t item = 0;      // the item just settled
  std::size_t finished = 0;  // items settled, done or failed
  std::size_t total = 0;
  std::size_t failed = 0;
  std::uint64_t pixels = 0;  // input pixels of the items done
};

struct RunOptions {
  ExecutorKind executor = ExecutorKind::fork;
  int workers = 0;             // 0: one per core
  // 0 in a dimension is the whole extent. Full-width stripes are the default because a tile is
  // computed from a copy 64-column aligned and grown by the halo: stripes copy the fewest extra
  // pixels (bench/throughput.cpp: 0x64 ran 1.5-1.8x faster than 256x256 for gaussian sigma=2).
  cv::Size tile{0, 64};
  Backend backend = Backend::sysv;
  int slots = 0;               // frame slots in the segment; 0: workers + 1 (at least 2)
  bool huge_pages = false;
  // Fork executor: the external worker program for the stages whose kernels are external
  // (docs/worker-protocol.md); empty when none.
  std::string worker_exec;
  // Fork executor: a task running longer is taken to hang; its worker is killed and replaced and
  // the task retried once, then its frame fails. 0: no limit.
  std::chrono::milliseconds task_timeout{std::chrono::minutes(5)};
  // Called each time an item is settled, from one thread at a time (the coordinator's, for
  // fork); it should be quick. Empty: no calls.
  std::function<void(const Progress&)> progress;
  // Where to record the run's profile (trace.hpp: every task, a worker's sleeps, the
  // coordinator's decoding, encoding and waits), or null: nothing is recorded and the segment
  // has no trace rings. A pointer, not a flag with the records in RunReport, because the
  // executor appends as it drains: a run that throws or is interrupted leaves every record of
  // a finished task there. Not owned; the caller keeps it alive for the run.
  RunTrace* trace = nullptr;
  // Fork executor: records per worker trace ring (a power of two >= 2); 0: kTraceRingRecords.
  std::uint32_t trace_ring_records = 0;
  // Fork executor: list the run in the per-user run registry (RunRegistry::default_folder())
  // while it runs, so that `tilefork top` can find its segment. A registry that cannot be used
  // costs a warning, not the run.
  bool announce = false;
};

// 2048 records of 48 bytes: 96 KiB per worker. The coordinator drains each ring at least every
// 50 ms and at once when it is half full, so a worker waits for room only when it finishes more
// than 1024 tasks before the coordinator gets to run (RunTrace::ring_full_waits counts it).
// Larger rings cost more than they save: every process maps every page of the segment at its
// start (MADV_POPULATE_WRITE, 2.5-10 us a page on these VMs: docs/design-notes.md), so each
// ring page is a fixed cost per process and run, while a nudge (one futex wake) per 512 tasks
// past half full costs nearly nothing.
inline constexpr std::uint32_t kTraceRingRecords = 2048;

struct ItemResult {
  bool ok = false;
  std::string error;  // why it failed: names the input, and the stage / tile / signal when known
  bool absent = false;  // a video frame its header announced and its stream did not hold (ok)
  // The last frame a video's header announced: the frames its stream held after it. They are
  // run and written as part of this item (every executor reads a video to its end), so a header
  // that under-counts costs nothing; `ok` and `error` cover them too.
  std::uint32_t extra_frames = 0;
};

struct RunReport {
  std::vector<ItemResult> items;  // one per WorkItem, in order
  double seconds = 0;             // wall time of the run, from start to the last write
  std::uint64_t pixels = 0;       // input pixels of the frames that were processed successfully
  std::uint64_t tasks = 0;        // loads + tiles + stores executed
  int workers = 0;
  int workers_replaced = 0;       // fork executor: workers that died and were forked again
  std::size_t segment_bytes = 0;  // fork executor: size of the shared segment
  bool interrupted = false;       // SIGINT / SIGTERM stopped the run early
  std::vector<double> worker_busy_seconds;  // fork executor: time each worker spent in tasks
  std::uint64_t idle_kicks = 0;   // fork executor: times all workers slept beside claimable work
  std::size_t failed() const;
};

// Runs `pipeline` over `items`. Item failures (a corrupt input, a kernel error, a dead worker)
// are reported in the RunReport and never stop the batch. Throws SystemError for a failure of
// the machinery itself (segment creation, fork) before any item is processed.
RunReport run_batch(const Pipeline& pipeline, std::span<const WorkItem> items,
                    const RunOptions& options);

// The fork executor's segment for a batch: K frame slots of up to three planes, each plane as
// large as the largest frame anywhere in the pipeline. Items whose pipeline cannot take their
// type get the reason in `error` (and count as not runnable).
struct SegmentShape {
  std::size_t runnable = 0;
  std::uint32_t slots = 1;
  std::uint32_t planes = 1;
  std::size_t plane_bytes = 1;
  std::size_t segment_bytes = 0;
};
SegmentShape plan_segment(const Pipeline& pipeline, std::span<WorkItem> items, const RunOptions& options);

// The executors behind run_batch, for tests and benchmarks that want one by name.
RunReport run_serial(const Pipeline& pipeline, std::span<const WorkItem> items, const RunOptions& options);
RunReport run_threads(const Pipeline& pipeline, std::span<const WorkItem> items, const RunOptions& options);
RunReport run_forked(const Pipeline& pipeline, std::span<const WorkItem> items, const RunOptions& options);

// The number of workers `options` asks for (0 means one per online core).
int resolve_workers(const RunOptions& options);

}  // namespace tilefork
