// What `tilefork run` shows while it works: a bar on a terminal, plain lines otherwise.
#pragma once

#include "tilefork/executor.hpp"

#include <chrono>
#include <cstdio>
#include <vector>

namespace tilefork::app {

class ProgressDisplay {
 public:
  // `owner_of_frame[i]` is the input (file or video) frame i of the run belongs to; there are
  // `inputs` of them. On a terminal the bar is redrawn at most ten times a second; otherwise a
  // line is printed every `interval` (zero: one for every settled frame).
  ProgressDisplay(std::FILE* stream, bool terminal, std::chrono::duration<double> interval,
                  std::vector<std::size_t> owner_of_frame, std::size_t inputs);

  // Takes what the executor reports; prints when it is time. Never throws.
  void update(const Progress& progress) noexcept;
  // Clears the bar (a terminal) so that the summary takes its place. Never throws.
  void finish() noexcept;

 private:
  void draw(const Progress& progress, bool final);
  std::string describe(const Progress& progress, double seconds) const;

  using Clock = std::chrono::steady_clock;
  std::FILE* stream_;
  bool terminal_;
  Clock::duration interval_;
  std::vector<std::size_t> owner_of_frame_;
  std::vector<std::size_t> frames_left_;  // per input
  std::size_t inputs_;
  std::size_t inputs_done_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  bool drawn_ = false;
};

// True when `stream` is a terminal (then a bar is drawn rather than lines).
bool is_terminal(std::FILE* stream);

}  // namespace tilefork::app
