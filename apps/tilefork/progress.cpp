// The progress bar and progress lines of `tilefork run`.
#include "progress.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace tilefork::app {
namespace {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto whole = static_cast<long long>(std::llround(seconds));
  if (whole >= 3600) return fmt::format("{}:{:02}:{:02}", whole / 3600, whole / 60 % 60, whole % 60);
  return fmt::format("{}:{:02}", whole / 60, whole % 60);
}

int terminal_width(std::FILE* stream) {
  winsize size{};
  if (::ioctl(::fileno(stream), TIOCGWINSZ, &size) == 0 && size.ws_col >= 20) return size.ws_col;
  return 80;
}

}  // namespace

bool is_terminal(std::FILE* stream) { return ::isatty(::fileno(stream)) == 1; }

ProgressDisplay::ProgressDisplay(std::FILE* stream, bool terminal, std::chrono::duration<double> interval,
                                 std::vector<std::size_t> owner_of_frame, std::size_t inputs)
    : stream_(stream),
      terminal_(terminal),
      interval_(std::chrono::duration_cast<Clock::duration>(terminal ? std::chrono::duration<double>(0.1) : interval)),
      owner_of_frame_(std::move(owner_of_frame)),
      frames_left_(inputs, 0),
      inputs_(inputs) {
  for (const std::size_t owner : owner_of_frame_) ++frames_left_.at(owner);
}

std::string ProgressDisplay::describe(const Progress& progress, double seconds) const {
  const double megapixels = static_cast<double>(progress.pixels) / 1e6;
  const double rate = seconds > 0 ? megapixels / seconds : 0;
  // The rest is estimated from the frames still to come at the pace of those settled so far.
  const double left = progress.finished == 0 ? NAN
                                             : seconds / static_cast<double>(progress.finished) *
                                                   static_cast<double>(progress.total - progress.finished);
  std::string text = fmt::format("{}/{} input{}", inputs_done_, inputs_, inputs_ == 1 ? "" : "s");
  if (progress.total != inputs_) text += fmt::format(", {}/{} frames", progress.finished, progress.total);
  if (progress.failed > 0) text += fmt::format(", {} failed", progress.failed);
  text += fmt::format(", {:.1f} MP/s, {} elapsed, ETA {}", rate, clock_text(seconds), clock_text(left));
  return text;
}

void ProgressDisplay::draw(const Progress& progress, bool final) {
  const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  const std::string text = describe(progress, seconds);
  const double fraction = progress.total == 0 ? 1.0 : static_cast<double>(progress.finished) / static_cast<double>(progress.total);
  if (!terminal_) {
    fmt::print(stream_, "tilefork: {:3.0f}% {}\n", fraction * 100, text);
    std::fflush(stream_);
    return;
  }
  const int width = terminal_width(stream_);
  const int bar = std::clamp(width - static_cast<int>(text.size()) - 9, 10, 40);
  const int filled = static_cast<int>(fraction * bar);
  std::string line = fmt::format("[{}{}] {:3.0f}% {}", std::string(static_cast<std::size_t>(filled), '#'),
                                 std::string(static_cast<std::size_t>(bar - filled), '.'), fraction * 100, text);
  if (line.size() > static_cast<std::size_t>(width - 1)) line.resize(static_cast<std::size_t>(width - 1));
  // \r and "erase line": the bar stays on one line and leaves nothing when cleared.
  fmt::print(stream_, "\r\033[K{}", final ? std::string() : line);
  std::fflush(stream_);
}

void ProgressDisplay::update(const Progress& progress) noexcept {
  try {
    if (progress.item < owner_of_frame_.size()) {
      const std::size_t owner = owner_of_frame_[progress.item];
      if (frames_left_[owner] > 0 && --frames_left_[owner] == 0) ++inputs_done_;
    }
    const auto now = Clock::now();
    if (drawn_ && now - last_draw_ < interval_) return;
    if (!terminal_ && !drawn_ && interval_.count() > 0 && now - start_ < interval_) return;
    last_draw_ = now;
    drawn_ = true;
    draw(progress, false);
  } catch (...) {
    // A progress display that cannot print must not stop the batch.
  }
}

void ProgressDisplay::finish() noexcept {
  try {
    if (terminal_ && drawn_) draw(Progress{}, true);
  } catch (...) {
    // As above.
  }
}

}  // namespace tilefork::app
