// Misbehaving test kernels shared by the supervision and tracing tests.
#include "common/test_kernels.hpp"

#include "tilefork/kernel.hpp"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace tilefork::test {
namespace {

bool poisoned(const cv::Mat& src) { return src.total() > 0 && src.data[0] == kPoison; }

// A pointwise kernel that inverts, after calling `misbehave` when the tile is poisoned.
KernelSpec inverting(std::string name, void (*misbehave)()) {
  return {.name = std::move(name),
          .summary = "test kernel: inverts, misbehaves on poisoned tiles",
          .params = {},
          .pointwise = true,
          .halo = nullptr,
          .output_type = [](FrameType input, const Params&) { return input; },
          .apply = [misbehave](const cv::Mat& src, cv::Mat& dst, const Params&) {
            if (poisoned(src)) misbehave();
            cv::bitwise_not(src, dst);
          }};
}

}  // namespace

void register_test_kernels() {
  static bool done = false;
  if (done) return;
  done = true;
  // The marker file is created by exactly one process, whichever sees the poison first.
  KernelRegistry::instance().add(inverting("crash_once", [] {
    const char* marker = std::getenv("TILEFORK_TEST_MARKER");
    if (marker != nullptr && ::open(marker, O_CREAT | O_EXCL | O_WRONLY, 0600) >= 0) std::raise(SIGSEGV);
  }));
  KernelRegistry::instance().add(inverting("crash_always", [] { std::raise(SIGSEGV); }));
  KernelRegistry::instance().add(inverting("throws", [] { throw std::runtime_error("bad pixel"); }));
  KernelRegistry::instance().add(inverting("aborts", [] { std::abort(); }));
  KernelRegistry::instance().add(inverting("hangs", [] {
    for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }));
}

cv::Mat poison_frame(cv::Size size) { return cv::Mat(size, CV_8UC1, cv::Scalar(kPoison)); }

void ForkBackendTest::SetUpTestSuite() {
  cv::setNumThreads(0);
  register_builtin_kernels();
  register_test_kernels();
}

void ForkBackendTest::SetUp() { before_ = ShmCensus::take(); }

void ForkBackendTest::TearDown() {
  EXPECT_EQ(ShmCensus::take().leaked_since(before_), std::vector<std::string>{});
}

}  // namespace tilefork::test
