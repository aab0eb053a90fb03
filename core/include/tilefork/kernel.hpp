// The kernel author's whole API: a kernel is declared by data (KernelSpec) plus one function.
#pragma once

#include <opencv2/core/hal/interface.h>
#include <opencv2/core/mat.hpp>

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tilefork {

// integer and real are one number; choice one of a list of words; numbers a list of numbers
// separated by commas or semicolons (a matrix row by row, a lookup table), each within range.
enum class ParamType { integer, real, choice, numbers };

// One row of a kernel's parameter table. The CLI, `tilefork kernels`, validation and the docs
// all read this table; nothing repeats it.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::integer;
  double default_value = 0;  // for choice: index into choices; unused for numbers
  std::string default_text = {};  // numbers only: the default list as typed, e.g. "1,2,1"
  double min = 0;            // inclusive range; ignored for choice
  double max = 0;
  std::string help;
  std::vector<std::string> choices = {};  // choice only
  bool odd = false;  // integer must be odd (aperture sizes); 0 is allowed when min is 0

  std::string describe_default() const;
  std::string describe_range() const;
};

// Parameter values of one stage, validated against the table. Accessors throw std::out_of_range
// for a name the table does not have (a bug in the kernel, not a user mistake).
class Params {
 public:
  Params() = default;
  // Starts from the table's defaults, then applies `assignments` (name -> text as typed).
  // Throws UsageError naming the kernel, the parameter, the value and the accepted range.
  Params(std::string_view kernel, std::span<const ParamSpec> table,
         const std::vector<std::pair<std::string, std::string>>& assignments);

  int integer(std::string_view name) const;
  double real(std::string_view name) const;
  std::string_view choice(std::string_view name) const;
  const std::vector<double>& numbers(std::string_view name) const;
  // "sigma=2 ksize=0" in table order: how a stage is printed back to the user.
  std::string describe() const;

 private:
  struct Value {
    const ParamSpec* spec;
    double number;  // integer, real, or choice index
    std::vector<double> list;  // numbers
  };
  const Value& find(std::string_view name, ParamType type) const;
  std::vector<Value> values_;
};

// The pixel type of a frame at one point of a pipeline.
struct FrameType {
  int depth = 0;     // CV_8U, CV_16U, CV_32F, ...
  int channels = 1;
  int cv_type() const;
  bool operator==(const FrameType&) const = default;
};
std::string to_string(FrameType type);  // "8-bit 3-channel"

// A kernel declared by data. Two kinds:
// - a tile kernel (whole_frame false) maps a rectangle of its input, grown by its halo, to the
//   same rectangle of its output; the executor chooses tiles and guarantees the result equals
//   `apply` on the whole frame;
// - a frame kernel (whole_frame true) needs the whole frame (a histogram, a resize) and may
//   change its size; it runs as one task, in parallel with other frames.
// The functions are called concurrently from many workers: they keep no state.
struct KernelSpec {
  std::string name;
  std::string summary;
  std::vector<ParamSpec> params;
  // The inputs it takes, checked before output_type is asked (which may narrow them further by
  // parameter). `tilefork kernels NAME` prints them.
  std::vector<int> depths = {CV_8U, CV_16U, CV_32F};
  std::vector<int> channels = {1, 3, 4};
  // True when each output pixel depends only on the same input pixel (no halo).
  bool pointwise = false;
  bool whole_frame = false;
  // Runs in an external worker program (docs/worker-protocol.md), not through `apply`: only the
  // fork executor can run it.
  bool external = false;
  // Tile kernels: neighbourhood radius in pixels (empty for pointwise kernels).
  std::function<int(const Params&)> halo;
  // The output type for an accepted input type (empty: the same type); throws UsageError saying
  // what it takes when a parameter rules the input out (the pipeline names stage and predecessor).
  std::function<FrameType(FrameType input, const Params&)> output_type;
  // Frame kernels: the output size for an input size (empty: the same size).
  std::function<cv::Size(cv::Size input, const Params&)> output_size;
  // Computes dst from src. dst is already allocated with the output size and type; the function
  // must write into it (OpenCV functions do when size and type match). src and dst never overlap.
  std::function<void(const cv::Mat& src, cv::Mat& dst, const Params&)> apply;
};

// "8-bit, 16-bit or 32-bit float; 1, 3 or 4 channels": what a kernel takes, for messages and docs.
std::string describe_inputs(const KernelSpec& spec);

// The registry of kernels (built-ins register themselves from workers/registry.cpp).
class KernelRegistry {
 public:
  static KernelRegistry& instance();
  // Throws UsageError when a kernel of that name is already registered.
  void add(const KernelSpec& spec);
  // nullptr when there is none.
  const KernelSpec* find(std::string_view name) const;
  std::vector<const KernelSpec*> all() const;  // sorted by name

 private:
  std::map<std::string, KernelSpec, std::less<>> kernels_;
};

// Registers the built-in kernels once (defined in workers/registry.cpp).
void register_builtin_kernels();

}  // namespace tilefork
