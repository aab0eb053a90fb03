// Sharding a batch over runs: --shard K/N, a Slurm job array's variables, a Kubernetes Indexed
// Job's JOB_COMPLETION_INDEX with --shards N. Shards together cover every input exactly once.
#include "common/batch.hpp"
#include "common/cli.hpp"
#include "common/frames.hpp"
#include "common/shm_census.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace tilefork {
namespace {

class Shards : public ::testing::Test {
 protected:
  void SetUp() override {
    before_ = test::ShmCensus::take();
    fs::create_directories(dir_.path() / "in/sub");
    for (int i = 0; i < 11; ++i) {
      const std::string name = fmt::format("in/{}{:02}.png", i % 3 == 0 ? "sub/" : "", i);
      ASSERT_TRUE(cv::imwrite(dir_ / name, test::random_frame({9 + i, 7}, CV_8UC1, static_cast<unsigned>(i))));
      inputs_.insert(dir_ / name);
    }
  }
  void TearDown() override { EXPECT_EQ(test::ShmCensus::take().leaked_since(before_), std::vector<std::string>{}); }

  // The inputs a sharded run processed (from --json), with the environment cleared of the
  // sharding variables except those given.
  std::vector<std::string> run_shard(std::vector<std::string> flags, std::vector<test::EnvChange> env = {}) {
    std::vector<std::string> args = {"run", "-p", "invert", "-r", "--json", "--overwrite", "--executor", "serial",
                                     "-o", dir_ / "out", dir_ / "in"};
    args.insert(args.end(), flags.begin(), flags.end());
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP",
                             "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX"}) {
      if (std::none_of(env.begin(), env.end(), [&](const auto& change) { return change.first == name; })) {
        env.emplace_back(name, std::nullopt);
      }
    }
    const auto result = test::run_tilefork(args, dir_, {}, env);
    EXPECT_EQ(result.code, 0) << result.err;
    std::vector<std::string> done;
    if (result.code != 0) return done;
    const auto summary = nlohmann::json::parse(result.out);
    for (const auto& item : summary["items"]) {
      EXPECT_EQ(item["status"], "ok") << item;
      done.push_back(item["input"]);
    }
    return done;
  }

  test::TempDir dir_;
  test::ShmCensus before_;
  std::set<std::string> inputs_;
};

TEST_F(Shards, EveryInputFallsInExactlyOneShard) {
  for (const int count : {1, 3, 4, 11, 13}) {
    std::map<std::string, int> seen;
    std::size_t smallest = inputs_.size();
    std::size_t largest = 0;
    for (int k = 1; k <= count; ++k) {
      const auto done = run_shard({"--shard", fmt::format("{}/{}", k, count)});
      smallest = std::min(smallest, done.size());
      largest = std::max(largest, done.size());
      for (const auto& input : done) ++seen[input];
    }
    EXPECT_EQ(seen.size(), inputs_.size()) << count << " shards";
    for (const auto& [input, times] : seen) {
      EXPECT_TRUE(inputs_.contains(input)) << input;
      EXPECT_EQ(times, 1) << input << " in " << count << " shards";
    }
    EXPECT_LE(largest - smallest, 1u) << count << " shards are balanced";
  }
}

TEST_F(Shards, TheSameShareFromSlurmAndKubernetes) {
  const auto flag = run_shard({"--shard", "2/3"});
  ASSERT_FALSE(flag.empty());
  // --array=4-12:4 runs tasks 4, 8, 12: task 8 is the second of three.
  EXPECT_EQ(run_shard({}, {{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_MIN", "4"}, {"SLURM_ARRAY_TASK_STEP", "4"},
                           {"SLURM_ARRAY_TASK_COUNT", "3"}}),
            flag);
  EXPECT_EQ(run_shard({"--shards", "3"}, {{"JOB_COMPLETION_INDEX", "1"}}), flag);
  EXPECT_EQ(run_shard({}).size(), inputs_.size()) << "no variables: the whole batch";
  EXPECT_EQ(run_shard({"--shard", "1/1"}, {{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}).size(),
            inputs_.size())
      << "--shard wins over the environment";
}

TEST_F(Shards, WrongSharesAreNamed) {
  auto fails_with = [&](std::vector<std::string> flags, std::vector<test::EnvChange> env, const std::string& text) {
    std::vector<std::string> args = {"run", "-p", "invert", "-o", dir_ / "out", dir_ / "in"};
    args.insert(args.end(), flags.begin(), flags.end());
    env.emplace_back("SLURM_ARRAY_TASK_ID", env.empty() ? std::nullopt : env.front().second);
    const auto result = test::run_tilefork(args, dir_, {}, env);
    EXPECT_EQ(result.code, 2) << result.err;
    EXPECT_NE(result.err.find(text), std::string::npos) << result.err;
  };
  fails_with({"--shard", "4/3"}, {}, "shard 4 of 3");
  fails_with({"--shard", "0/3"}, {}, "shard 0 of 3");
  fails_with({"--shard", "two"}, {}, "--shard 'two' is not K/N");
  fails_with({"--shards", "3"}, {{"JOB_COMPLETION_INDEX", std::nullopt}}, "needs this run's index");
  fails_with({"--shards", "3"}, {{"JOB_COMPLETION_INDEX", "3"}}, "shard 4 of 3");
  fails_with({}, {{"SLURM_ARRAY_TASK_ID", "x1"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}, "SLURM_ARRAY_TASK_ID='x1'");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

}  // namespace
}  // namespace tilefork
