// External worker programs: kernels in another program that works on the segment in place.
#pragma once

#include "tilefork/kernel.hpp"
#include "tilefork/pipeline.hpp"
#include "tilefork/segment.hpp"

#include <opencv2/core/mat.hpp>

#include <string>
#include <sys/types.h>
#include <vector>

namespace tilefork {

// Starts `program` once without a segment, reads the kernels it offers (its hello line, see
// docs/worker-protocol.md) and returns them as KernelSpecs marked external. Throws UsageError
// naming the program when it cannot be started, says nothing within 10 s, or says it wrongly.
std::vector<KernelSpec> describe_external_worker(const std::string& program);

// One copy of the program beside one tilefork worker. Not thread-safe; one per worker process.
class ExternalWorker {
 public:
  ExternalWorker(std::string program, const Segment& segment);
  ExternalWorker(const ExternalWorker&) = delete;
  ExternalWorker& operator=(const ExternalWorker&) = delete;
  ~ExternalWorker();  // closes the program's input and reaps it; never throws

  // Asks the program to compute `write` of `output` from `read` of `input` (Mats over the
  // segment). Starts the program when it is not running; if it dies on the tile, starts it again
  // and asks once more. Throws std::runtime_error with the program's own message, or saying how
  // it ended.
  void run_tile(const Stage& stage, const cv::Mat& input, cv::Mat& output, cv::Rect read, cv::Rect write,
                std::uint32_t frame, std::uint32_t stage_index, std::uint32_t tile);

 private:
  void start();
  void stop() noexcept;
  // One request, one answer. Returns false (and stops the program) if it went away.
  bool exchange(const std::string& request, std::string& answer);

  std::string program_;
  const Segment& segment_;
  pid_t pid_ = -1;
  int to_program_ = -1;
  int from_program_ = -1;
  std::string pending_;  // what the program wrote past the last line read
};

}  // namespace tilefork
