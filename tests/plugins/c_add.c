/* c_add: a kernel written against plugin.h alone, in C: adds a constant to 8-bit pixels, saturating. */
#include "tilefork/plugin.h"

#include <stdio.h>

static const tf_param params[] = {
    {.name = "value", .type = TF_PARAM_INTEGER, .default_value = 10, .min = -255, .max = 255,
     .help = "added to every channel"},
};
static const int depths[] = {0 /* CV_8U */};
static const int channels[] = {1, 3, 4};

static int apply(void* context, const tf_image* src, tf_image* dst, const tf_value* values, char* error,
                 size_t error_size) {
  const int value = (int)values[0].number;
  (void)context;
  if (src->depth != 0 || dst->depth != 0) {
    snprintf(error, error_size, "c_add: got depth %d, expected 8-bit", src->depth);
    return 1;
  }
  for (int y = 0; y < src->rows; ++y) {
    const unsigned char* in = (const unsigned char*)src->data + (size_t)y * src->step;
    unsigned char* out = (unsigned char*)dst->data + (size_t)y * dst->step;
    for (int x = 0; x < src->cols * src->channels; ++x) {
      const int sum = in[x] + value;
      out[x] = (unsigned char)(sum < 0 ? 0 : sum > 255 ? 255 : sum);
    }
  }
  return 0;
}

static const tf_kernel kernels[] = {
    {.name = "c_add", .summary = "adds a constant to 8-bit pixels (a plugin in plain C)",
     .params = params, .param_count = 1, .depths = depths, .depth_count = 1, .channels = channels,
     .channel_count = 3, .flags = TF_KERNEL_POINTWISE, .apply = apply},
};
static const tf_plugin plugin = {TILEFORK_PLUGIN_ABI_VERSION, "c_add", 1, kernels};

const tf_plugin* tilefork_plugin(void) { return &plugin; }
