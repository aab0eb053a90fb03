// Line charts with cv::line, cv::circle and cv::putText: axes, ticks, grid, series, legend.
#include "plot.hpp"

#include <fmt/format.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>

namespace tilefork::bench {
namespace {

const cv::Scalar kWhite{255, 255, 255};
const cv::Scalar kBlack{0, 0, 0};
const cv::Scalar kGrid{232, 232, 232};
const cv::Scalar kNoteColour{90, 90, 90};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Where the plot area lies in the image; the legend takes the strip right of it.
struct Frame {
  cv::Rect area;
  int legend_left = 0;
};

Frame layout(cv::Size size) {
  constexpr int left = 80, top = 78, bottom = 70;
  const int legend_width = std::max(150, size.width / 4);
  Frame frame;
  frame.area = cv::Rect(left, top, std::max(50, size.width - left - legend_width - 20),
                        std::max(50, size.height - top - bottom));
  frame.legend_left = frame.area.x + frame.area.width + 20;
  return frame;
}

// Maps data coordinates to pixels of the plot area.
class Axes {
 public:
  Axes(cv::Rect area, double x_low, double x_high, double y_low, double y_high)
      : area_(area), x_low_(x_low), x_high_(x_high), y_low_(y_low), y_high_(y_high) {}

  cv::Point at(double x, double y) const {
    const double fx = (x - x_low_) / (x_high_ - x_low_);
    const double fy = (y - y_low_) / (y_high_ - y_low_);
    return {area_.x + static_cast<int>(std::lround(fx * area_.width)),
            area_.y + area_.height - static_cast<int>(std::lround(fy * area_.height))};
  }
  double x_low() const { return x_low_; }
  double x_high() const { return x_high_; }
  double y_high() const { return y_high_; }

 private:
  cv::Rect area_;
  double x_low_, x_high_, y_low_, y_high_;
};

void text(cv::Mat& image, const std::string& what, cv::Point origin, double scale, const cv::Scalar& colour,
          int thickness = 1) {
  cv::putText(image, what, origin, kFont, scale, colour, thickness, cv::LINE_AA);
}

cv::Size text_size(const std::string& what, double scale, int thickness = 1) {
  int baseline = 0;
  return cv::getTextSize(what, kFont, scale, thickness, &baseline);
}

// Text turned a quarter to the left, centred on `centre` (the y axis label).
void vertical_text(cv::Mat& image, const std::string& what, cv::Point centre, double scale) {
  const cv::Size size = text_size(what, scale);
  cv::Mat strip(size.height + 8, size.width + 4, CV_8UC3, kWhite);
  text(strip, what, {2, size.height + 2}, scale, kBlack);
  cv::Mat turned;
  cv::rotate(strip, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
  cv::Rect place(centre.x - turned.cols / 2, centre.y - turned.rows / 2, turned.cols, turned.rows);
  place &= cv::Rect(0, 0, image.cols, image.rows);
  if (place.area() == 0) return;
  cv::Mat target = image(place);
  // Dark on white: the minimum keeps the text and whatever was drawn there.
  cv::min(target, turned(cv::Rect(0, 0, place.width, place.height)), target);
}

void dashed_line(cv::Mat& image, cv::Point from, cv::Point to, const cv::Scalar& colour) {
  constexpr double dash = 12, gap = 7;
  const double dx = to.x - from.x, dy = to.y - from.y;
  const double length = std::hypot(dx, dy);
  if (length < 1) return;
  for (double start = 0; start < length; start += dash + gap) {
    const double end = std::min(length, start + dash);
    const cv::Point a(static_cast<int>(std::lround(from.x + dx * start / length)),
                      static_cast<int>(std::lround(from.y + dy * start / length)));
    const cv::Point b(static_cast<int>(std::lround(from.x + dx * end / length)),
                      static_cast<int>(std::lround(from.y + dy * end / length)));
    // Not anti-aliased: the line keeps its exact colour.
    cv::line(image, a, b, colour, 2, cv::LINE_8);
  }
}

std::string tick_label(double value) {
  if (std::abs(value) < 1e-9) return "0";
  return fmt::format("{:g}", value);
}

double highest_y(const Chart& chart) {
  double high = 0;
  for (const auto& series : chart.series) {
    for (const auto& point : series.points) high = std::max({high, point.y, point.high});
  }
  return high;
}

double highest_x(const Chart& chart) {
  double high = 0;
  for (const auto& series : chart.series) {
    for (const auto& point : series.points) high = std::max(high, point.x);
  }
  return high;
}

}  // namespace

cv::Scalar series_colour(std::size_t index) {
  // BGR: blue, vermilion, green, purple, brown, pink, teal, grey-blue.
  static const std::array<cv::Scalar, 8> palette{
      cv::Scalar{180, 110, 30}, cv::Scalar{30, 60, 210},  cv::Scalar{40, 150, 40},   cv::Scalar{170, 80, 130},
      cv::Scalar{50, 80, 130},  cv::Scalar{170, 110, 220}, cv::Scalar{140, 140, 20}, cv::Scalar{120, 100, 90}};
  return palette[index % palette.size()];
}

std::vector<double> nice_ticks(double low, double high, int target, bool integer) {
  if (!(high > low)) high = low + 1;
  const double rough = (high - low) / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  double step = power;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * power;
    if (step >= rough) break;
  }
  if (integer) step = std::max(1.0, std::round(step));
  std::vector<double> ticks;
  const double first = std::floor(low / step) * step;
  for (int i = 0;; ++i) {
    const double value = first + i * step;
    ticks.push_back(std::abs(value) < step * 1e-9 ? 0 : value);
    if (value >= high - step * 1e-9) break;
  }
  return ticks;
}

cv::Mat draw_chart(const Chart& chart, cv::Size size) {
  cv::Mat image(size, CV_8UC3, kWhite);
  const Frame frame = layout(size);
  const cv::Rect& area = frame.area;
  const bool categorical = !chart.x_categories.empty();

  // Ranges: y from 0; numeric x from 0 (speed-up and workers start there), categories centred.
  double x_low = 0, x_high = 0;
  std::vector<double> x_ticks;
  if (categorical) {
    x_low = -0.5;
    x_high = static_cast<double>(chart.x_categories.size()) - 0.5;
  } else {
    x_ticks = nice_ticks(0, std::max(1.0, highest_x(chart)), 6, chart.integer_x);
    x_high = x_ticks.back() + 0.3 * (x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1);
  }
  double y_top = highest_y(chart);
  if (chart.ideal_line && !categorical) y_top = std::max(y_top, x_ticks.back());
  const std::vector<double> y_ticks = nice_ticks(0, y_top > 0 ? y_top * 1.05 : 1, 6);
  const Axes axes(area, x_low, x_high, 0, y_ticks.back());

  // Grid and ticks.
  for (const double y : y_ticks) {
    const cv::Point p = axes.at(x_low, y);
    cv::line(image, {area.x, p.y}, {area.x + area.width, p.y}, kGrid, 1, cv::LINE_8);
    cv::line(image, {area.x - 6, p.y}, {area.x, p.y}, kBlack, 1, cv::LINE_8);
    const std::string label = tick_label(y);
    const cv::Size extent = text_size(label, 0.45);
    text(image, label, {area.x - 10 - extent.width, p.y + extent.height / 2}, 0.45, kBlack);
  }
  auto x_tick = [&](double x, const std::string& label) {
    const cv::Point p = axes.at(x, 0);
    cv::line(image, {p.x, area.y}, {p.x, area.y + area.height}, kGrid, 1, cv::LINE_8);
    cv::line(image, {p.x, area.y + area.height}, {p.x, area.y + area.height + 6}, kBlack, 1, cv::LINE_8);
    const cv::Size extent = text_size(label, 0.45);
    text(image, label, {p.x - extent.width / 2, area.y + area.height + 12 + extent.height}, 0.45, kBlack);
  };
  if (categorical) {
    for (std::size_t i = 0; i < chart.x_categories.size(); ++i) x_tick(static_cast<double>(i), chart.x_categories[i]);
  } else {
    for (const double x : x_ticks) x_tick(x, tick_label(x));
  }
  cv::rectangle(image, area, kBlack, 1, cv::LINE_8);

  // Labels and title.
  const cv::Size x_extent = text_size(chart.x_label, 0.55);
  text(image, chart.x_label, {area.x + (area.width - x_extent.width) / 2, area.y + area.height + 52}, 0.55, kBlack);
  vertical_text(image, chart.y_label, {22, area.y + area.height / 2}, 0.55);
  text(image, chart.title, {area.x, 32}, 0.7, kBlack, 2);
  if (!chart.note.empty()) text(image, chart.note, {area.x, 58}, 0.45, kNoteColour);

  // The ideal line under the series, clipped to the plot area.
  if (chart.ideal_line && !categorical) {
    const double end = std::min(x_high, axes.y_high());
    cv::Point from = axes.at(0, 0), to = axes.at(end, end);
    if (cv::clipLine(area, from, to)) dashed_line(image, from, to, kIdealLineColour);
  }

  // Series: error bars, lines, then markers on top.
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const cv::Scalar colour = series_colour(s);
    const auto& points = chart.series[s].points;
    for (const auto& point : points) {
      if (point.high <= point.low) continue;
      const cv::Point low = axes.at(point.x, point.low), high = axes.at(point.x, point.high);
      cv::line(image, low, high, colour, 1, cv::LINE_8);
      cv::line(image, {low.x - 5, low.y}, {low.x + 5, low.y}, colour, 1, cv::LINE_8);
      cv::line(image, {high.x - 5, high.y}, {high.x + 5, high.y}, colour, 1, cv::LINE_8);
    }
    for (std::size_t i = 1; i < points.size(); ++i) {
      cv::line(image, axes.at(points[i - 1].x, points[i - 1].y), axes.at(points[i].x, points[i].y), colour, 2,
               cv::LINE_AA);
    }
    for (const auto& point : points) cv::circle(image, axes.at(point.x, point.y), 5, colour, cv::FILLED, cv::LINE_8);
  }

  // Legend, right of the plot: a stretch of line and a marker, then the name.
  int y = area.y + 12;
  auto entry = [&](const std::string& name, const cv::Scalar& colour, bool ideal) {
    const cv::Point a(frame.legend_left, y), b(frame.legend_left + 34, y);
    if (ideal) {
      dashed_line(image, a, b, colour);
    } else {
      cv::line(image, a, b, colour, 2, cv::LINE_AA);
      cv::circle(image, (a + b) / 2, 5, colour, cv::FILLED, cv::LINE_8);
    }
    text(image, name, {b.x + 10, y + 5}, 0.5, kBlack);
    y += 26;
  };
  for (std::size_t s = 0; s < chart.series.size(); ++s) entry(chart.series[s].name, series_colour(s), false);
  if (chart.ideal_line && !categorical) entry(chart.ideal_name, kIdealLineColour, true);
  return image;
}

}  // namespace tilefork::bench
