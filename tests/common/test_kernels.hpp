// Misbehaving test kernels: they invert like `invert`, except on poisoned tiles, where they crash,
// abort, throw or hang, so that tests can watch the executors isolate the damage.
#pragma once

#include "common/shm_census.hpp"
#include "tilefork/segment.hpp"

#include <gtest/gtest.h>
#include <opencv2/core/mat.hpp>

namespace tilefork::test {

// A frame whose first pixel holds this value makes the test kernels misbehave.
constexpr unsigned char kPoison = 13;

// Registers, once per process:
// - crash_once: the first process to see a poisoned tile creates the file named by
//   TILEFORK_TEST_MARKER and dies of SIGSEGV; every later attempt (the retry) inverts;
// - crash_always: SIGSEGV on every poisoned tile;
// - aborts: std::abort() (SIGABRT) on every poisoned tile;
// - throws: std::runtime_error("bad pixel") on every poisoned tile;
// - hangs: never returns from a poisoned tile.
// All are pointwise and keep the input's type, so the oracle of the clean frames is `invert`.
void register_test_kernels();

// An 8-bit gray frame of `size` filled with kPoison.
cv::Mat poison_frame(cv::Size size);

// A test of the fork executor, once per backend, with these kernels and the built-in ones
// registered, that fails when it leaves a segment behind.
class ForkBackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  static void SetUpTestSuite();
  void SetUp() override;
  void TearDown() override;

  ShmCensus before_;
};

}  // namespace tilefork::test
