// `tilefork timeline`: a Chrome trace drawn as a PNG, boxes where the events are in time.
#include "common/batch.hpp"
#include "common/cli.hpp"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

namespace tilefork {
namespace {

// Three rows (coordinator, worker 0, worker 1) over 10 ms. Drawn 900 wide, the time axis runs
// from x = 190 (the label column) to x = 888 (a 12-pixel margin): 69.8 pixels per ms. Rows are
// 26 pixels high from y = 46 (margin 12 + legend 34).
constexpr char kTrace[] = R"trace({"traceEvents":[
 {"ph":"M","name":"process_name","pid":1,"args":{"name":"coordinator"}},
 {"ph":"M","name":"process_name","pid":2,"args":{"name":"worker 0 (pid 11)"}},
 {"ph":"M","name":"process_name","pid":3,"args":{"name":"worker 1 (pid 12)"}},
 {"ph":"X","name":"load","cat":"load","pid":2,"tid":0,"ts":0,"dur":4000},
 {"ph":"X","name":"tile 3","cat":"tile","pid":3,"tid":0,"ts":1000,"dur":5000},
 {"ph":"X","name":"store","cat":"store","pid":2,"tid":0,"ts":6000,"dur":4000},
 {"ph":"X","name":"decode","pid":1,"tid":0,"ts":0,"dur":500}]})trace";

bool white(const cv::Vec3b& pixel) { return pixel == cv::Vec3b(255, 255, 255); }

// The x of a time on the 900-pixel-wide picture of a 10 ms trace.
int x_at(double ms) { return 190 + static_cast<int>(ms * 69.8 + 0.5); }

// Draws `trace` 900 pixels wide with `tilefork timeline` and reads the picture back.
cv::Mat draw(const test::TempDir& dir, const char* trace) {
  std::ofstream(dir / "trace.json") << trace;
  const auto result = test::run_tilefork({"timeline", dir / "trace.json", "-o", dir / "t.png", "--width", "900"}, dir);
  EXPECT_EQ(result.code, 0) << result.err;
  return cv::imread(dir / "t.png", cv::IMREAD_COLOR);
}

TEST(Timeline, BoxesAreWhereTheEventsAreInTime) {
  test::TempDir dir;
  const cv::Mat image = draw(dir, kTrace);
  ASSERT_EQ(image.cols, 900);
  const int worker0 = 46 + 26 + 13;
  const int worker1 = 46 + 2 * 26 + 13;
  // Worker 1's tile spans 1..6 ms: one colour inside, white just outside.
  const cv::Vec3b tile = image.at<cv::Vec3b>(worker1, x_at(3.5));
  EXPECT_FALSE(white(tile));
  EXPECT_EQ(image.at<cv::Vec3b>(worker1, x_at(1.05)), tile);
  EXPECT_EQ(image.at<cv::Vec3b>(worker1, x_at(5.95)), tile);
  EXPECT_TRUE(white(image.at<cv::Vec3b>(worker1, x_at(0.9))));
  EXPECT_TRUE(white(image.at<cv::Vec3b>(worker1, x_at(6.3))));
  // Worker 0: load (0..4 ms), a gap, store (6..10 ms), each in its category's colour.
  const cv::Vec3b load = image.at<cv::Vec3b>(worker0, x_at(2.5));
  const cv::Vec3b store = image.at<cv::Vec3b>(worker0, x_at(8.5));
  EXPECT_FALSE(white(load));
  EXPECT_FALSE(white(store));
  EXPECT_NE(load, tile);
  EXPECT_NE(store, load);
  EXPECT_TRUE(white(image.at<cv::Vec3b>(worker0, x_at(5.0))));
}

// Tiles of two stages, back to back on one worker, as `run --trace` writes them: each stage has
// its own colour, and consecutive tasks of one stage are told apart by a white pixel.
constexpr char kStages[] = R"trace({"traceEvents":[
 {"ph":"M","name":"process_name","pid":2,"args":{"name":"worker 0 (pid 11)"}},
 {"ph":"X","name":"gaussian","cat":"tile","pid":2,"tid":2,"ts":0,"dur":2000,"args":{"stage":1,"kernel":"gaussian"}},
 {"ph":"X","name":"gaussian","cat":"tile","pid":2,"tid":2,"ts":2000,"dur":2000,"args":{"stage":1,"kernel":"gaussian"}},
 {"ph":"X","name":"sobel","cat":"tile","pid":2,"tid":2,"ts":4000,"dur":6000,"args":{"stage":2,"kernel":"sobel"}}]})trace";

TEST(Timeline, TilesAreColouredByStageAndTasksAreSeparated) {
  test::TempDir dir;
  const cv::Mat image = draw(dir, kStages);
  ASSERT_EQ(image.cols, 900);
  const int row = 46 + 13;
  const cv::Vec3b first = image.at<cv::Vec3b>(row, x_at(1.0));
  const cv::Vec3b second = image.at<cv::Vec3b>(row, x_at(3.0));
  const cv::Vec3b sobel = image.at<cv::Vec3b>(row, x_at(7.0));
  EXPECT_FALSE(white(first));
  EXPECT_EQ(first, second);
  EXPECT_NE(sobel, first);
  EXPECT_FALSE(white(sobel));
  // The last pixel column of the first task is white, the first of the second is not.
  EXPECT_TRUE(white(image.at<cv::Vec3b>(row, x_at(2.0) - 1)));
  EXPECT_FALSE(white(image.at<cv::Vec3b>(row, x_at(2.0))));
}

TEST(Timeline, WhatIsNotATraceIsNamed) {
  test::TempDir dir;
  std::ofstream(dir / "text.json") << "not json";
  std::ofstream(dir / "empty.json") << R"({"traceEvents":[{"ph":"M","name":"process_name","pid":1}]})";
  const auto text = test::run_tilefork({"timeline", dir / "text.json", "-o", dir / "t.png"}, dir);
  EXPECT_EQ(text.code, 2);
  EXPECT_NE(text.err.find("text.json' is not JSON"), std::string::npos) << text.err;
  const auto empty = test::run_tilefork({"timeline", dir / "empty.json", "-o", dir / "t.png"}, dir);
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("no complete"), std::string::npos) << empty.err;
  const auto missing = test::run_tilefork({"timeline", dir / "none.json", "-o", dir / "t.png"}, dir);
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("none.json"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace tilefork
