// Helpers for the torch-facing CUDA glue (compiled only where torch has CUDA).
#pragma once

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace geo3d {

inline void* current_stream(const at::Tensor& t) {
  return static_cast<void*>(c10::cuda::getCurrentCUDAStream(t.device().index()).stream());
}

inline void check_launch(int error, const char* op) {
  TORCH_CHECK(error == 0, "geo3d: CUDA launch of ", op, " failed with error code ", error);
}

inline void check_cuda(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.is_cuda(), "geo3d: '", name, "' must be a CUDA tensor here");
}

}  // namespace geo3d
