// Lists the built-in kernels; the one place that knows them all.
#include "builtin.hpp"

#include <mutex>

namespace tilefork {

void register_builtin_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    using namespace builtin;
    auto& registry = KernelRegistry::instance();
    for (const KernelSpec* spec : {
             // tile kernels with a halo
             &gaussian(), &box(), &median(), &bilateral(), &sobel(), &scharr(), &laplacian(),
             &filter2d(), &sepfilter(), &erode(), &dilate(), &open(), &close(), &gradient(),
             &tophat(), &blackhat(), &adaptive_threshold(), &unsharp(),
             // pointwise kernels
             &threshold(), &invert(), &gray(), &gamma(), &brightness_contrast(), &levels(),
             &lut(), &hsv(), &lab(), &ycrcb(), &convert(),
             // frame kernels
             &otsu(), &equalize(), &clahe(), &canny(), &normalize(), &resize()}) {
      registry.add(*spec);
    }
  });
}

}  // namespace tilefork
