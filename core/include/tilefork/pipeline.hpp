// Pipeline: parse "gaussian sigma=2 | sobel", resolve kernels, check types, assign planes.
#pragma once

#include "tilefork/kernel.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tilefork {

struct Stage {
  const KernelSpec* kernel = nullptr;
  Params params;
  int halo = 0;
  std::string describe() const;  // "gaussian sigma=2 ksize=0"
};

// How one frame of a given input type flows through the stages: the type after each stage
// and which plane of its slot each stage reads and writes. Plane 0 holds the frame as loaded
// and is never written by a stage, so a frame can be redone without reading the input again.
// Stages ping-pong between planes 1 and 2, pointwise ones too: a stage never writes the plane
// it reads, so a tile whose worker died half-way can be run again and give the same bytes
// (in place, the retry would read pixels the dead worker had already changed).
struct FramePlan {
  std::vector<FrameType> types;  // types[0] is the input; types[i + 1] is stage i's output
  std::vector<cv::Size> sizes;   // likewise: frame kernels may change the size
  std::vector<int> in_plane;
  std::vector<int> out_plane;
  int planes = 1;
  int result_plane() const { return out_plane.empty() ? 0 : out_plane.back(); }
  // Bytes of the largest frame anywhere in the pipeline: what each plane must hold.
  std::size_t max_plane_bytes() const;
  // Tasks of stage `stage`: its tiles, or 1 for a frame kernel.
  std::uint32_t task_count(const class Pipeline& pipeline, std::uint32_t stage, cv::Size tile) const;
};

inline constexpr std::size_t kMaxStages = 32;

class Pipeline {
 public:
  // Parses and resolves against the registry. Throws UsageError naming the stage (1-based),
  // the kernel or parameter at fault, and what to do.
  static Pipeline parse(std::string_view text);

  const std::vector<Stage>& stages() const noexcept { return stages_; }
  // Plans a frame of `input` type and size. Throws UsageError naming the stage that cannot take
  // its predecessor's output.
  FramePlan plan(FrameType input, cv::Size size) const;
  std::string describe() const;  // normalised text with every parameter spelled out

 private:
  std::vector<Stage> stages_;
};

}  // namespace tilefork
