// Test frame makers.
#include "common/frames.hpp"

#include <fmt/format.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#ifndef TILEFORK_SAMPLES
#define TILEFORK_SAMPLES "samples"
#endif

namespace tilefork::test {
namespace {

double range_of(int depth) {
  switch (depth) {
    case CV_8U: return 255;
    case CV_16U: return 65535;
    default: return 1;
  }
}

}  // namespace

cv::Mat random_frame(cv::Size size, int type, unsigned seed) {
  cv::Mat frame(size, type);
  cv::RNG rng(seed);
  rng.fill(frame, cv::RNG::UNIFORM, cv::Scalar::all(0), cv::Scalar::all(range_of(CV_MAT_DEPTH(type)) + (CV_MAT_DEPTH(type) == CV_32F ? 0 : 1)));
  return frame;
}

cv::Mat photo_like_frame(cv::Size size, int type, unsigned seed) {
  cv::RNG rng(seed);
  cv::Mat scene(size, CV_32FC3);
  for (int y = 0; y < size.height; ++y) {
    auto* row = scene.ptr<cv::Vec3f>(y);
    for (int x = 0; x < size.width; ++x) {
      const float fx = static_cast<float>(x) / static_cast<float>(std::max(1, size.width));
      const float fy = static_cast<float>(y) / static_cast<float>(std::max(1, size.height));
      row[x] = {0.2f + 0.6f * fx, 0.3f + 0.5f * fy, 0.5f + 0.4f * fx * fy};
    }
  }
  for (int i = 0; i < 12; ++i) {
    const cv::Point centre(rng.uniform(0, std::max(1, size.width)), rng.uniform(0, std::max(1, size.height)));
    const int radius = rng.uniform(1, std::max(2, std::min(size.width, size.height) / 3));
    const cv::Scalar colour(rng.uniform(0.f, 1.f), rng.uniform(0.f, 1.f), rng.uniform(0.f, 1.f));
    if (i % 2 == 0) {
      cv::circle(scene, centre, radius, colour, cv::FILLED);
    } else {
      cv::rectangle(scene, {centre, cv::Size(radius, radius / 2 + 1)}, colour, cv::FILLED);
    }
  }
  cv::Mat noise(size, CV_32FC3);
  rng.fill(noise, cv::RNG::NORMAL, cv::Scalar::all(0), cv::Scalar::all(0.03));
  scene += noise;
  cv::Mat converted;
  const int depth = CV_MAT_DEPTH(type);
  scene.convertTo(converted, depth, range_of(depth));
  const int channels = CV_MAT_CN(type);
  if (channels == 1) {
    cv::cvtColor(converted, converted, cv::COLOR_BGR2GRAY);
  } else if (channels == 4) {
    cv::cvtColor(converted, converted, cv::COLOR_BGR2BGRA);
  }
  return converted;
}

cv::Mat sample_photo(const std::string& name, cv::Size crop) {
  const std::string path = std::string(TILEFORK_SAMPLES) + "/frames/" + name;
  cv::Mat photo = cv::imread(path, cv::IMREAD_COLOR);
  if (photo.empty()) throw std::runtime_error("cannot read sample photo " + path);
  if (crop.area() > 0) photo = photo(cv::Rect({0, 0}, crop)).clone();
  return photo;
}

std::string describe(const cv::Mat& frame) {
  static const char* depths[] = {"8U", "8S", "16U", "16S", "32S", "32F", "64F", "16F"};
  return fmt::format("{}x{} {}C{}", frame.cols, frame.rows, depths[frame.depth()], frame.channels());
}

}  // namespace tilefork::test
