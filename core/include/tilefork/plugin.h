/* The plugin ABI: the only things that cross between tilefork and a plugin library. Plain C. */
#ifndef TILEFORK_PLUGIN_H
#define TILEFORK_PLUGIN_H

#include <stddef.h>

/* Bumped whenever any struct below changes; tilefork refuses a plugin that reports another one,
 * before it reads any other member of the table. */
#define TILEFORK_PLUGIN_ABI_VERSION 1

/* The one symbol tilefork looks up (dlsym) in a plugin. */
#define TILEFORK_PLUGIN_ENTRY "tilefork_plugin"

/* Plugins build with hidden visibility (the tilefork::kernel CMake target sees to it); this marks
 * what must stay visible: the entry point. */
#if defined(__GNUC__)
#define TILEFORK_EXPORT __attribute__((visibility("default")))
#else
#define TILEFORK_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A frame or a rectangle of one, in place (never a copy). Rows start `step` bytes apart. */
typedef struct tf_image {
  void* data;    /* the first pixel; a source image is read-only */
  int rows;
  int cols;
  int depth;     /* OpenCV depth code: 0 CV_8U, 2 CV_16U, 5 CV_32F, ... */
  int channels;
  size_t step;   /* bytes from one row to the next */
} tf_image;

/* tf_param.type */
enum {
  TF_PARAM_INTEGER = 0, /* a whole number in [min, max] */
  TF_PARAM_REAL = 1,    /* a number in [min, max] */
  TF_PARAM_CHOICE = 2,  /* one word of `choices`; its value is the index */
  TF_PARAM_NUMBERS = 3  /* a list of numbers, each in [min, max], typed "1,2,1" */
};

/* One row of a kernel's parameter table: what `tilefork kernels NAME` prints and what the
 * pipeline text is checked against. All strings are UTF-8 and live as long as the plugin. */
typedef struct tf_param {
  const char* name;
  int type;                    /* TF_PARAM_* */
  double default_value;        /* for choice: index into choices; unused for numbers */
  double min;                  /* inclusive range; unused for choice */
  double max;
  const char* help;            /* may be NULL */
  const char* const* choices;  /* choice only */
  size_t choice_count;
  const char* default_text;    /* numbers only: the default list as typed, e.g. "1,2,1"; may be NULL */
  int odd;                     /* non-zero: an integer must be odd (0 allowed when min is 0) */
} tf_param;

/* The value of one parameter, checked against its row. Values cross as an array in table order. */
typedef struct tf_value {
  double number;       /* integer, real, or choice index */
  const double* list;  /* numbers only */
  size_t list_size;
} tf_value;

/* tf_kernel.flags */
enum {
  TF_KERNEL_POINTWISE = 1,   /* each output pixel depends on the same input pixel only (no halo) */
  TF_KERNEL_WHOLE_FRAME = 2  /* needs the whole frame (may change its size): one task per frame */
};

/* One kernel. The functions are called concurrently from many threads or processes with the same
 * `context`: they keep no state. Those returning int return 0 on success; otherwise they write a
 * NUL-terminated message into `error` (at most error_size bytes) and return non-zero. */
typedef struct tf_kernel {
  const char* name;     /* one word, unique among all kernels (built-in ones too) */
  const char* summary;  /* one line for `tilefork kernels`; may be NULL */
  const tf_param* params;
  size_t param_count;
  const int* depths;    /* accepted OpenCV depth codes */
  size_t depth_count;
  const int* channels;  /* accepted channel counts */
  size_t channel_count;
  unsigned flags;       /* TF_KERNEL_* */
  void* context;        /* passed back to every function below */
  /* Tile kernels: the neighbourhood radius in pixels for these values; negative on error.
   * NULL: no halo. */
  int (*halo)(void* context, const tf_value* values);
  /* The output type for an accepted input type. NULL: the same type. */
  int (*output_type)(void* context, const tf_value* values, int in_depth, int in_channels,
                     int* out_depth, int* out_channels, char* error, size_t error_size);
  /* Frame kernels: the output size for an input size. NULL: the same size. */
  int (*output_size)(void* context, const tf_value* values, int in_rows, int in_cols, int* out_rows,
                     int* out_cols, char* error, size_t error_size);
  /* Computes dst from src; dst is allocated with the output size and type and must be written
   * in place. src and dst never overlap. Required. */
  int (*apply)(void* context, const tf_image* src, tf_image* dst, const tf_value* values, char* error,
               size_t error_size);
} tf_kernel;

/* What the entry point returns; it lives as long as the plugin (tilefork never unloads one). */
typedef struct tf_plugin {
  int abi_version;  /* TILEFORK_PLUGIN_ABI_VERSION; first, and read before anything else */
  const char* name;
  size_t kernel_count;
  const tf_kernel* kernels;
} tf_plugin;

/* The entry point every plugin defines (named TILEFORK_PLUGIN_ENTRY). */
typedef const tf_plugin* (*tf_plugin_entry)(void);
TILEFORK_EXPORT const tf_plugin* tilefork_plugin(void);

#ifdef __cplusplus
}
#endif

#endif /* TILEFORK_PLUGIN_H */
