// Line charts drawn with OpenCV's own drawing functions, for the plots of `tilefork bench --sweep`.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace tilefork::bench {

struct ChartPoint {
  double x = 0;
  double y = 0;
  double low = 0;  // the spread drawn as an error bar from low to high; none when both equal y
  double high = 0;
};

struct ChartSeries {
  std::string name;
  std::vector<ChartPoint> points;  // joined in this order
};

struct Chart {
  std::string title;
  std::string note;  // a smaller line under the title
  std::string x_label;
  std::string y_label;
  // When not empty, the x axis is categorical: point i sits at category x = i, labelled so.
  std::vector<std::string> x_categories;
  bool integer_x = false;  // numeric x: ticks at whole numbers only (worker counts)
  // The line y = x across the plot, dashed, in kIdealLineColour, named in the legend.
  bool ideal_line = false;
  std::string ideal_name = "ideal (y = x)";
  std::vector<ChartSeries> series;
};

// BGR. No series colour, nor any blend of one with the white background or the black text,
// equals it: a test finds the ideal line by this exact colour (it is drawn without
// anti-aliasing).
inline const cv::Scalar kIdealLineColour{60, 170, 230};
// The colour of series `index`, from a palette of eight that then repeats. Markers are drawn in it
// without anti-aliasing, so every series leaves pixels of exactly this colour.
cv::Scalar series_colour(std::size_t index);

// "Nice" tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high] with about
// `target` intervals; with `integer`, steps of at least 1.
std::vector<double> nice_ticks(double low, double high, int target, bool integer = false);

// Draws `chart` on a white 8-bit BGR image of `size`: axes from 0 (y) with ticks and grid lines,
// labels, title, each series as a line with markers and error bars, the legend right of the plot.
cv::Mat draw_chart(const Chart& chart, cv::Size size = {900, 600});

}  // namespace tilefork::bench
