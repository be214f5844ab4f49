// groot_core._C: importing it loads libgroot_torch, whose static initialisers register the
// torch.ops.groot operators. The module itself only reports how it was built. CPU kernels use as
// many threads as torch.get_num_threads().
#include <pybind11/pybind11.h>

#include "groot/torch_build.hpp"

PYBIND11_MODULE(_C, m) {
  m.doc() = "groot's libtorch operators (registered on import as torch.ops.groot)";
  m.attr("with_cuda") = groot::torch::built_with_cuda();
}
