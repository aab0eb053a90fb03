// A Chrome trace (the format `tilefork run --trace` writes) drawn as a PNG timeline: one row per
// process and thread, a box per complete ("X") event, coloured by category (a tile's by its
// stage), over a time axis.
#pragma once

#include <nlohmann/json.hpp>
#include <opencv2/core/mat.hpp>

#include <string>
#include <vector>

namespace tilefork::app {

struct TimelineBox {
  double start_us = 0;
  double duration_us = 0;
  // The event's "cat", else the first word of its name; a tile with "stage" and "kernel"
  // arguments is "stage N KERNEL".
  std::string category;
};

struct TimelineRow {
  std::string label;  // from the process_name / thread_name metadata events, else "pid N"
  std::vector<TimelineBox> boxes;
};

struct Timeline {
  std::vector<TimelineRow> rows;  // in the order of their first event's process id
  std::vector<std::string> categories;  // in the order first seen; a colour each
  double start_us = 0;
  double end_us = 0;
};

// Reads the complete events of a Chrome trace ({"traceEvents": [...]} or a bare array). Throws
// UsageError naming what is wrong (not a trace, no complete events).
Timeline read_timeline(const nlohmann::json& trace);

// The colour (BGR) of category `index`; the same index gives the same colour in every picture.
cv::Scalar category_colour(std::size_t index);

// Draws `timeline` `width` pixels wide (at least 400): labels on the left, a legend on top, a
// time axis in milliseconds below. White background.
cv::Mat render_timeline(const Timeline& timeline, int width);

}  // namespace tilefork::app
