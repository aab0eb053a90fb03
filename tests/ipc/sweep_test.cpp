// `tilefork bench --sweep`: every meaningful configuration measured once, speed-ups against serial,
// a recommendation that follows its rule, plots that show their lines, outputs that parse and agree,
// and nothing left behind.
#include "plot.hpp"
#include "sweep.hpp"
#include "transport.hpp"  // Interrupted

#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/shm_census.hpp"
#include "tilefork/errors.hpp"
#include "tilefork/kernel.hpp"
#include "tilefork/tile.hpp"
#include "tilefork/worker_pool.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace tilefork {
namespace {

using bench::SweepResult;

testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "'" << part << "' is not in:\n" << text;
}

// Segments, and children not reaped (the threads child, fork workers).
std::vector<std::string> left_since(const test::ShmCensus& before) {
  std::vector<std::string> found = test::ShmCensus::take().leaked_since(before);
  if (waitpid(-1, nullptr, WNOHANG) != -1 || errno != ECHILD) found.push_back("a child process not reaped");
  return found;
}

// Two small frames of awkward sizes and types: odd width colour, and gray.
std::vector<bench::SweepFrame> tiny_frames() {
  return {{"a", test::photo_like_frame({97, 61}, CV_8UC3, 3)}, {"b", test::photo_like_frame({64, 45}, CV_8UC1, 4)}};
}

bench::SweepOptions small_sweep() {
  bench::SweepOptions options;
  options.frames = tiny_frames();
  options.workers = {1, 2};
  options.tiles = {{0, 16}, {0, 0}};
  options.repetitions = 1;
  options.min_time = std::chrono::duration<double>(0);
  return options;
}

using Key = std::tuple<std::string, std::string, int, std::string>;  // executor, backend, workers, tile

Key key_of(const SweepResult& result) {
  const auto& c = result.configuration;
  return {std::string(to_string(c.executor)), c.executor == ExecutorKind::fork ? std::string(to_string(c.backend)) : "",
          c.workers, bench::format_tile_size(c.tile)};
}

// Pixels of exactly `colour`, and the box around them.
struct ColourFound {
  int count = 0;
  cv::Rect box;
};

ColourFound find_colour(const cv::Mat& image, const cv::Scalar& colour) {
  cv::Mat mask;
  cv::inRange(image, colour, colour, mask);
  ColourFound found;
  found.count = cv::countNonZero(mask);
  if (found.count > 0) {
    std::vector<cv::Point> points;
    cv::findNonZero(mask, points);
    found.box = cv::boundingRect(points);
  }
  return found;
}

int non_white(const cv::Mat& image) {
  cv::Mat mask;
  cv::inRange(image, cv::Scalar(255, 255, 255), cv::Scalar(255, 255, 255), mask);
  return static_cast<int>(image.total()) - cv::countNonZero(mask);
}

// ---------------------------------------------------------------------------------------------
// The pieces.

// Parsing itself is tested with TileGrid (tests/unit/tile_test.cpp).
TEST(SweepLists, TileSizesPrintAsTheyParse) {
  for (const cv::Size tile : bench::default_tile_sizes()) {
    EXPECT_EQ(parse_tile_size(bench::format_tile_size(tile), "tile"), tile);
  }
  EXPECT_EQ(bench::format_tile_size({0, 0}), "whole");
  EXPECT_EQ(bench::format_tile_size({0, 64}), "0x64");
}

TEST(SweepLists, DefaultWorkerCountsArePowersOfTwoAndTheCores) {
  EXPECT_EQ(bench::default_worker_counts(1), (std::vector<int>{1}));
  EXPECT_EQ(bench::default_worker_counts(2), (std::vector<int>{1, 2}));
  EXPECT_EQ(bench::default_worker_counts(6), (std::vector<int>{1, 2, 4, 6}));
  EXPECT_EQ(bench::default_worker_counts(8), (std::vector<int>{1, 2, 4, 8}));
}

TEST(SweepFrames, SyntheticFramesArePhotoLikeAndRepeatable) {
  const auto frames = bench::synthetic_frames(2, {64, 48});
  ASSERT_EQ(frames.size(), 2u);
  for (const auto& frame : frames) {
    EXPECT_EQ(frame.image.size(), cv::Size(64, 48));
    EXPECT_EQ(frame.image.type(), CV_8UC3);
    cv::Scalar mean, deviation;
    cv::meanStdDev(frame.image, mean, deviation);
    EXPECT_GT(deviation[0] + deviation[1] + deviation[2], 30) << frame.name << " is nearly flat";
  }
  EXPECT_NE(frames[0].name, frames[1].name);
  EXPECT_GT(cv::norm(frames[0].image, frames[1].image, cv::NORM_INF), 0) << "two frames alike";
  const auto again = bench::synthetic_frames(1, {64, 48});
  EXPECT_EQ(cv::norm(frames[0].image, again[0].image, cv::NORM_INF), 0) << "not the same for the same arguments";
}

TEST(SweepPlots, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(bench::nice_ticks(0, 2, 6, true), (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(bench::nice_ticks(0, 9.3, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  const auto ticks = bench::nice_ticks(0, 437, 6);
  EXPECT_EQ(ticks.front(), 0);
  EXPECT_GE(ticks.back(), 437);
  EXPECT_EQ(ticks[1] - ticks[0], 100);
}

TEST(SweepPlots, TheIdealLineIsFoundByItsColourAndOnlyWhenDrawn) {
  bench::Chart chart;
  chart.title = "t";
  chart.x_label = "workers";
  chart.y_label = "speed-up";
  chart.integer_x = true;
  chart.series = {{"fork sysv", {{1, 0.9, 0.8, 1.0}, {2, 1.7, 1.5, 1.8}, {4, 3.1, 2.9, 3.3}}},
                  {"threads", {{1, 1.0, 1.0, 1.0}, {2, 1.9, 1.9, 1.9}, {4, 3.5, 3.5, 3.5}}}};
  const cv::Mat without = bench::draw_chart(chart);
  EXPECT_EQ(find_colour(without, bench::kIdealLineColour).count, 0) << "the ideal colour appears with no ideal line";
  chart.ideal_line = true;
  const cv::Mat with = bench::draw_chart(chart);
  ASSERT_EQ(with.size(), cv::Size(900, 600));
  const ColourFound ideal = find_colour(with, bench::kIdealLineColour);
  // Dashed across the plot, from the lower left to the upper right.
  EXPECT_GT(ideal.count, 300);
  EXPECT_GT(ideal.box.width, 300);
  EXPECT_GT(ideal.box.height, 250);
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    EXPECT_GT(find_colour(with, bench::series_colour(s)).count, 100) << "series " << s << " not drawn";
  }
}

// ---------------------------------------------------------------------------------------------
// The recommendation's rule, on made-up results.

SweepResult made_up(ExecutorKind executor, int workers, double median, double low, double high) {
  SweepResult result;
  result.configuration = {executor, Backend::posix, workers, {0, 64}};
  result.median_mps = median;
  result.min_mps = low;
  result.max_mps = high;
  result.seconds = {1.0};
  return result;
}

TEST(SweepRecommendation, ForkWithinTheSpreadOfTheFastestIsPreferred) {
  const std::vector<SweepResult> results{made_up(ExecutorKind::serial, 1, 100, 95, 105),
                                         made_up(ExecutorKind::fork, 2, 180, 170, 190),
                                         made_up(ExecutorKind::threads, 2, 200, 175, 210)};
  const auto chosen = bench::recommend("gaussian sigma=2", results);
  EXPECT_EQ(chosen.fastest, 2u);
  EXPECT_EQ(chosen.chosen, 1u);
  EXPECT_TRUE(contains(chosen.why, "within the spread"));
  EXPECT_EQ(chosen.command,
            "tilefork run -p \"gaussian sigma=2\" --workers 2 --tile 0x64 --backend posix -o OUTDIR INPUT...");
}

TEST(SweepRecommendation, TheFastestWinsWhenForkIsBelowItsSpread) {
  const std::vector<SweepResult> results{made_up(ExecutorKind::fork, 2, 170, 160, 180),
                                         made_up(ExecutorKind::threads, 2, 200, 175, 210)};
  const auto chosen = bench::recommend("invert", results);
  EXPECT_EQ(chosen.chosen, 1u);
  EXPECT_TRUE(contains(chosen.why, "below the fastest's slowest run"));
  EXPECT_EQ(chosen.command, "tilefork run -p \"invert\" --executor threads --workers 2 --tile 0x64 -o OUTDIR INPUT...");
}

TEST(SweepRecommendation, ASerialReferenceNotAskedForIsNeverChosen) {
  std::vector<SweepResult> results{made_up(ExecutorKind::serial, 1, 300, 290, 310),
                                   made_up(ExecutorKind::fork, 2, 100, 90, 110)};
  results[0].reference_only = true;
  EXPECT_EQ(bench::recommend("box", results).chosen, 1u);
  results[0].reference_only = false;
  const auto chosen = bench::recommend("box", results);
  EXPECT_EQ(chosen.chosen, 0u);
  EXPECT_EQ(chosen.command, "tilefork run -p \"box\" --executor serial --tile 0x64 -o OUTDIR INPUT...");
}

TEST(SweepRecommendation, ThePipelineIsQuotedForTheShell) {
  const std::vector<SweepResult> results{made_up(ExecutorKind::fork, 1, 100, 90, 110)};
  EXPECT_TRUE(contains(bench::recommend("lut table=$x", results).command, "-p 'lut table=$x' "));
}

// ---------------------------------------------------------------------------------------------
// The sweep, called directly.

class Sweep : public testing::Test {
 protected:
  // Before any OpenCV call: this process forks workers and must have no thread when it does.
  Sweep() {
    cv::setNumThreads(0);
    register_builtin_kernels();
  }
  void TearDown() override {
    const auto left = left_since(before_);
    EXPECT_TRUE(left.empty()) << fmt::format("left behind: {}", fmt::join(left, "; "));
  }
  test::ShmCensus before_ = test::ShmCensus::take();
};

TEST_F(Sweep, EachMeaningfulConfigurationOnceWithSpeedupsAgainstSerial) {
  auto options = small_sweep();
  options.backends = {Backend::sysv, Backend::posix};
  std::vector<Key> reported;
  const auto report = bench::run_sweep(options, [&](const SweepResult& result) { reported.push_back(key_of(result)); });

  // Serial once per tile, fork per backend x workers x tile, threads per workers x tile.
  std::set<Key> expected;
  for (const std::string tile : {"0x16", "whole"}) {
    expected.insert({"serial", "", 1, tile});
    for (const int workers : {1, 2}) {
      expected.insert({"threads", "", workers, tile});
      for (const std::string backend : {"sysv", "posix"}) expected.insert({"fork", backend, workers, tile});
    }
  }
  ASSERT_EQ(report.results.size(), expected.size());
  std::set<Key> measured;
  for (const auto& result : report.results) measured.insert(key_of(result));
  EXPECT_EQ(measured, expected);
  ASSERT_EQ(reported.size(), report.results.size());
  // Serial first: every later row has its reference.
  EXPECT_EQ(std::get<0>(reported[0]), "serial");
  EXPECT_EQ(std::get<0>(reported[1]), "serial");

  const double megapixels = (97.0 * 61 + 64.0 * 45) / 1e6;
  EXPECT_NEAR(report.megapixels, megapixels, 1e-12);
  std::map<std::string, double> serial_seconds;
  for (const auto& result : report.results) {
    if (result.configuration.executor == ExecutorKind::serial) {
      serial_seconds[bench::format_tile_size(result.configuration.tile)] = result.median_seconds();
    }
  }
  for (const auto& result : report.results) {
    SCOPED_TRACE(result.configuration.describe());
    ASSERT_EQ(result.seconds.size(), 1u);  // repetitions 1, min_time 0
    EXPECT_GT(result.seconds[0], 0);
    EXPECT_NEAR(result.median_mps, megapixels / result.seconds[0], 1e-6 * result.median_mps);
    EXPECT_LE(result.min_mps, result.median_mps);
    EXPECT_GE(result.max_mps, result.median_mps);
    ASSERT_TRUE(result.speedup.has_value());
    ASSERT_TRUE(result.efficiency.has_value());
    const double reference = serial_seconds.at(bench::format_tile_size(result.configuration.tile));
    EXPECT_NEAR(*result.speedup, reference / result.median_seconds(), 1e-9);
    EXPECT_NEAR(*result.efficiency, *result.speedup / result.configuration.workers, 1e-9);
    if (result.configuration.executor == ExecutorKind::serial) {
      EXPECT_EQ(result.configuration.workers, 1);
      EXPECT_DOUBLE_EQ(*result.speedup, 1.0);
    }
    EXPECT_FALSE(result.reference_only);
  }

  // The recommendation: measured, and fastest or within the fastest's spread.
  const auto& recommendation = report.recommendation;
  ASSERT_LT(recommendation.chosen, report.results.size());
  ASSERT_LT(recommendation.fastest, report.results.size());
  const auto& fastest = report.results[recommendation.fastest];
  for (const auto& result : report.results) EXPECT_LE(result.median_mps, fastest.median_mps);
  EXPECT_GE(report.chosen().median_mps, fastest.min_mps);
  if (report.chosen().configuration.executor != ExecutorKind::fork) {
    for (const auto& result : report.results) {
      if (result.configuration.executor == ExecutorKind::fork) {
        EXPECT_LT(result.median_mps, fastest.min_mps);
      }
    }
  }
  EXPECT_TRUE(contains(recommendation.command, "tilefork run -p \"gaussian sigma=2\""));
  EXPECT_TRUE(contains(recommendation.command, "--tile " + bench::format_tile_size(report.chosen().configuration.tile)));

  // The threads ran in a child: this process may still fork safely.
  EXPECT_EQ(thread_count(), 1);
}

TEST_F(Sweep, MinTimeAddsRunsAndSerialIsAlwaysTheReference) {
  auto options = small_sweep();
  options.executors = {ExecutorKind::fork};
  options.workers = {2};
  options.tiles = {{0, 16}};
  options.min_time = std::chrono::milliseconds(60);
  const auto report = bench::run_sweep(options);
  ASSERT_EQ(report.results.size(), 2u);
  EXPECT_EQ(report.results[0].configuration.executor, ExecutorKind::serial);
  EXPECT_TRUE(report.results[0].reference_only);
  EXPECT_EQ(report.chosen().configuration.executor, ExecutorKind::fork);
  // Runs are added until they add up to min_time, and not one more.
  for (const auto& result : report.results) {
    double total = 0;
    for (const double seconds : result.seconds) total += seconds;
    EXPECT_GE(total, 0.06) << result.configuration.describe();
    EXPECT_LT(total - result.seconds.back(), 0.06) << result.configuration.describe() << ": "
                                                   << result.seconds.size() << " runs";
  }
}

TEST_F(Sweep, WrongInputsAreUsageErrorsNamingTheCulprit) {
  auto options = small_sweep();
  options.pipeline = "gaussian sigma=2 | nosuchkernel";
  EXPECT_THROW(bench::run_sweep(options), UsageError);
  options = small_sweep();
  options.pipeline = "bilateral";  // 8-bit only
  options.frames.push_back({"deep", test::photo_like_frame({33, 17}, CV_16UC3)});
  try {
    bench::run_sweep(options);
    FAIL() << "a 16-bit frame passed for bilateral";
  } catch (const UsageError& error) {
    EXPECT_TRUE(contains(error.what(), "'deep'"));
  }
  options = small_sweep();
  options.workers = {0};
  EXPECT_THROW(bench::run_sweep(options), UsageError);
  options = small_sweep();
  options.frames.clear();
  EXPECT_THROW(bench::run_sweep(options), UsageError);
}

TEST_F(Sweep, AnInterruptionStopsItInEachPhase) {
  // Measured in this order: serial, fork, threads (in a child); interrupted once `settled` are done.
  for (const std::size_t settled : {1u, 2u}) {
    SCOPED_TRACE(settled == 1 ? "in the fork phase" : "in the threads phase, with its child running");
    auto options = small_sweep();
    options.workers = {1};
    options.tiles = {{0, 16}};
    options.repetitions = 3;
    std::size_t done = 0;
    options.interrupted = [&done, settled] { return done >= settled; };
    EXPECT_THROW(bench::run_sweep(options, [&done](const SweepResult&) { ++done; }), bench::Interrupted);
    EXPECT_EQ(done, settled);
  }
}

TEST_F(Sweep, PlotsShowTheIdealLineAndEverySeries) {
  const auto report = bench::run_sweep(small_sweep());
  const cv::Mat speedup = bench::draw_chart(bench::speedup_chart(report));
  EXPECT_GT(non_white(speedup), static_cast<int>(speedup.total() / 100));
  EXPECT_GT(find_colour(speedup, bench::kIdealLineColour).count, 300);
  const auto chart = bench::speedup_chart(report);
  ASSERT_EQ(chart.series.size(), 2u);  // fork sysv, threads; serial is the reference
  for (const auto& series : chart.series) EXPECT_EQ(series.points.size(), 2u) << series.name;  // workers 1, 2

  const auto tiles = bench::tile_chart(report);
  EXPECT_EQ(tiles.x_categories, (std::vector<std::string>{"0x16", "whole"}));
  ASSERT_EQ(tiles.series.size(), 3u);  // fork, threads, serial
  for (const auto& series : tiles.series) EXPECT_EQ(series.points.size(), 2u) << series.name;
  const cv::Mat tile_plot = bench::draw_chart(tiles);
  EXPECT_GT(non_white(tile_plot), static_cast<int>(tile_plot.total() / 100));
  for (std::size_t s = 0; s < tiles.series.size(); ++s) {
    EXPECT_GT(find_colour(tile_plot, bench::series_colour(s)).count, 50) << tiles.series[s].name;
  }
}

// ---------------------------------------------------------------------------------------------
// The command.

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(file, line);) {
    std::vector<std::string> cells;
    std::istringstream stream(line);
    for (std::string cell; std::getline(stream, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

class SweepCommand : public Sweep {
 protected:
  void SetUp() override {
    const auto frames = tiny_frames();
    for (const auto& frame : frames) {
      const std::string path = scratch_ / (frame.name + ".png");
      ASSERT_TRUE(cv::imwrite(path, frame.image));
      frame_paths_.push_back(path);
    }
  }
  std::vector<std::string> small_args() const {
    return {"bench", "--sweep", "--frames", frame_paths_[0], frame_paths_[1], "--workers", "1,2", "--tiles", "0x16,whole",
            "--repeat", "1", "--min-time", "0"};
  }
  test::TempDir scratch_;
  std::vector<std::string> frame_paths_;
};

TEST_F(SweepCommand, CsvJsonAndPlotsAgree) {
  const std::string csv = scratch_ / "sweep.csv";
  const std::string json = scratch_ / "sweep.json";
  const std::string plots = scratch_ / "plots/deeper";
  auto args = small_args();
  args.insert(args.end(), {"--csv", csv, "--json", json, "--plot-dir", plots});
  const auto outcome = test::run_tilefork(args, scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err << outcome.out;
  EXPECT_TRUE(contains(outcome.out, "held in memory"));
  EXPECT_TRUE(contains(outcome.out, "Recommended: "));
  EXPECT_TRUE(contains(outcome.out, "tilefork run -p \"gaussian sigma=2\""));

  const auto rows = read_csv(csv);
  ASSERT_FALSE(rows.empty()) << "no CSV written";
  const std::vector<std::string> header{"executor",  "backend",    "workers",        "tile",       "tile_width",
                                        "tile_height", "runs",     "megapixels",     "median_seconds", "median_mps",
                                        "min_mps",   "max_mps",    "speedup",        "efficiency", "recommended"};
  ASSERT_EQ(rows[0], header);
  // serial 2 tiles, fork sysv 2 workers x 2 tiles, threads 2 x 2: serial is not multiplied by workers.
  ASSERT_EQ(rows.size(), 1u + 2 + 4 + 4);
  const auto report = nlohmann::json::parse(test::slurp(json));
  ASSERT_EQ(report["results"].size(), rows.size() - 1);
  int recommended = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto& row = rows[i];
    const auto& entry = report["results"][i - 1];
    SCOPED_TRACE(fmt::format("CSV row {}: {}", i, fmt::join(row, ",")));
    ASSERT_EQ(row.size(), header.size());
    EXPECT_EQ(row[0], entry["executor"].get<std::string>());
    EXPECT_EQ(row[1], entry["backend"].is_null() ? "" : entry["backend"].get<std::string>());
    EXPECT_EQ(std::stoi(row[2]), entry["workers"].get<int>());
    EXPECT_EQ(row[3], entry["tile"].get<std::string>());
    EXPECT_EQ(std::stoi(row[6]), 1);
    EXPECT_NEAR(std::stod(row[9]), entry["median_mps"].get<double>(), 0.006);
    EXPECT_NEAR(std::stod(row[10]), entry["min_mps"].get<double>(), 0.006);
    EXPECT_NEAR(std::stod(row[11]), entry["max_mps"].get<double>(), 0.006);
    EXPECT_NEAR(std::stod(row[12]), entry["speedup"].get<double>(), 6e-5);
    EXPECT_GT(std::stod(row[9]), 0);
    if (row[0] == "serial") {
      EXPECT_EQ(row[2], "1");
      EXPECT_EQ(row[1], "");
    }
    EXPECT_EQ(row[14] == "1", entry["recommended"].get<bool>());
    recommended += row[14] == "1" ? 1 : 0;
  }
  EXPECT_EQ(recommended, 1);
  const auto index = report["recommendation"]["index"].get<std::size_t>();
  ASSERT_LT(index + 1, rows.size());
  EXPECT_EQ(rows[index + 1][14], "1");
  EXPECT_EQ(report["recommendation"]["tile"], report["results"][index]["tile"]);
  EXPECT_TRUE(contains(outcome.out, report["recommendation"]["command"].get<std::string>()));
  EXPECT_EQ(report["frames"].size(), 2u);
  EXPECT_EQ(report["plots"].size(), 2u);

  for (const std::string name : {"sweep-speedup.png", "sweep-tiles.png"}) {
    SCOPED_TRACE(name);
    const std::string path = plots + "/" + name;
    ASSERT_TRUE(std::filesystem::exists(path));
    EXPECT_GT(std::filesystem::file_size(path), 0u);
    const cv::Mat image = cv::imread(path, cv::IMREAD_COLOR);
    ASSERT_FALSE(image.empty()) << "does not decode";
    EXPECT_EQ(image.size(), cv::Size(900, 600));
    EXPECT_GT(non_white(image), static_cast<int>(image.total() / 100)) << "blank";
    const int ideal = find_colour(image, bench::kIdealLineColour).count;
    if (name == "sweep-speedup.png") {
      EXPECT_GT(ideal, 300) << "no ideal line";
    } else {
      EXPECT_EQ(ideal, 0);
    }
  }
}

TEST_F(SweepCommand, JsonOnStandardOutputLeavesTheTableToStandardError) {
  auto args = small_args();
  args.insert(args.end(), {"--executors", "serial,fork", "--json"});
  const auto outcome = test::run_tilefork(args, scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  const auto report = nlohmann::json::parse(outcome.out);  // nothing else on standard output
  EXPECT_EQ(report["mode"], "sweep");
  EXPECT_EQ(report["results"].size(), 2u + 4);
  EXPECT_TRUE(contains(outcome.err, "Recommended: "));
  const auto index = report["recommendation"]["index"].get<std::size_t>();
  ASSERT_LT(index, report["results"].size());
  EXPECT_TRUE(report["results"][index]["recommended"].get<bool>());
  EXPECT_EQ(report["recommendation"]["executor"], report["results"][index]["executor"]);
  EXPECT_EQ(report["recommendation"]["workers"], report["results"][index]["workers"]);
}

TEST_F(SweepCommand, TheBundledSamplesAreTheDefaultFrames) {
  const auto outcome = test::run_tilefork(
      {"bench", "--sweep", "--executors", "serial", "--tiles", "whole", "--repeat", "1", "--min-time", "0"}, scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "on 4 frames"));
  EXPECT_TRUE(contains(outcome.out, "samples/frames"));
  EXPECT_FALSE(contains(outcome.out, "synthetic"));
}

TEST_F(SweepCommand, WrongArgumentsAreRefusedBeforeMeasuring) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--workers", "0"}, "'0'"},
      {{"--workers", "1,two"}, "'two'"},
      {{"--tiles", "12y12"}, "'12y12'"},
      {{"--backends", "tape"}, "'tape'"},
      {{"--executors", "gpu"}, "'gpu'"},
      {{"--sizes", "64K"}, "--sizes"},
      {{"--transport"}, "one mode"},
      {{"--csv", scratch_ / "no/such/folder/x.csv"}, "no/such/folder"},
      {{"--json", scratch_ / "no/such/folder/x.json"}, "no/such/folder"},
      {{"--frames", scratch_ / "missing.png"}, "missing.png"},
      {{"-p", "gaussian sigma=-4"}, "sigma"},
  };
  for (const auto& [extra, named] : cases) {
    auto args = small_args();
    if (extra[0] == "--frames") args.erase(args.begin() + 2, args.begin() + 5);
    args.insert(args.end(), extra.begin(), extra.end());
    SCOPED_TRACE(fmt::format("{}", fmt::join(extra, " ")));
    const auto outcome = test::run_tilefork(args, scratch_);
    EXPECT_EQ(outcome.code, 2) << outcome.err;
    EXPECT_TRUE(contains(outcome.err, named));
    EXPECT_FALSE(contains(outcome.out, "serial ")) << "measured before refusing";
  }
}

TEST_F(SweepCommand, TransportJsonGoesToAFileBesideTheTable) {
  // --json FILE is shared by both modes.
  const std::string json = scratch_ / "transport.json";
  const auto outcome = test::run_tilefork({"bench", "--transport", "--sizes", "64K", "--transports", "pipe",
                                           "--min-repeat", "1", "--min-time", "0", "--json", json},
                                          scratch_);
  ASSERT_EQ(outcome.code, 0) << outcome.err;
  EXPECT_TRUE(contains(outcome.out, "Segment handshake"));  // the table is still printed
  const auto report = nlohmann::json::parse(test::slurp(json));
  ASSERT_EQ(report["results"].size(), 1u);
  EXPECT_EQ(report["results"][0]["transport"], "pipe");
}

TEST_F(SweepCommand, CtrlCStopsItWithExitCode130AndNothingLeft) {
  const pid_t sweep = fork();
  if (sweep == 0) {
    setpgid(0, 0);  // a job of its own, as a shell starts it
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execl(TILEFORK_BINARY, TILEFORK_BINARY, "bench", "--sweep", "--frames", frame_paths_[0].c_str(), "--workers", "2",
          "--tiles", "0x16", "--min-time", "120", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(sweep, sweep);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ::kill(-sweep, SIGINT);  // what a terminal does: the whole foreground group
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  pid_t ended = 0;
  while (ended == 0 && std::chrono::steady_clock::now() < deadline) {
    ended = waitpid(sweep, &status, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (ended == 0) {
    ::kill(-sweep, SIGKILL);
    waitpid(sweep, &status, 0);
    FAIL() << "still running 10 s after SIGINT";
  }
  ASSERT_TRUE(WIFEXITED(status)) << describe_wait_status(status);
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_TRUE(test::children_of(sweep).empty());
}

}  // namespace
}  // namespace tilefork
