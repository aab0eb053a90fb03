// equalize: histogram equalisation of gray frames, or of the luma of colour ones (a frame kernel).
#include "builtin.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <vector>

namespace tilefork::builtin {

// The histogram is the whole frame's, so it runs as one task per frame. A colour frame is
// equalised on Y of YCrCb only, so hues stay (equalising B, G and R apart shifts them):
// cvtColor BGR2YCrCb, equalizeHist on Y, cvtColor YCrCb2BGR.
const KernelSpec& equalize() {
  static const KernelSpec spec{
      .name = "equalize",
      .summary = "histogram equalisation (cv::equalizeHist); colour frames on the Y of YCrCb",
      .params = {},
      .depths = {CV_8U},
      .channels = {1, 3},
      .whole_frame = true,
      .apply =
          [](const cv::Mat& src, cv::Mat& dst, const Params&) {
            if (src.channels() == 1) {
              cv::equalizeHist(src, dst);
              return;
            }
            cv::Mat ycrcb;
            cv::cvtColor(src, ycrcb, cv::COLOR_BGR2YCrCb);
            std::vector<cv::Mat> planes;
            cv::split(ycrcb, planes);
            cv::equalizeHist(planes[0], planes[0]);
            cv::merge(planes, ycrcb);
            cv::cvtColor(ycrcb, dst, cv::COLOR_YCrCb2BGR);
          },
  };
  return spec;
}

}  // namespace tilefork::builtin
