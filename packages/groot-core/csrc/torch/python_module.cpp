// groot_core._C: importing it loads libgroot_torch, whose static initialisers register the
// torch.ops.groot operators. The module itself reports how it was built and sets the CPU output
// cache (groot_core.memory). CPU kernels use as many threads as torch.get_num_threads().
#include <pybind11/pybind11.h>

#include "groot/torch.hpp"
#include "groot/torch_build.hpp"

PYBIND11_MODULE(_C, m) {
  m.doc() = "groot's libtorch operators (registered on import as torch.ops.groot)";
  m.attr("with_cuda") = groot::torch::built_with_cuda();
  m.def("set_cpu_output_cache_limit", &groot::torch::set_cpu_output_cache_limit, pybind11::arg("bytes"));
  m.def("cpu_output_cache_bytes", &groot::torch::cpu_output_cache_bytes);
  m.def("cpu_output_cache_limit", &groot::torch::cpu_output_cache_limit);
}
