# CUDA kernels of the core. Architectures: CMAKE_CUDA_ARCHITECTURES if set, else
# TORCH_CUDA_ARCH_LIST (e.g. "8.0;9.0"), else Ampere and Hopper machine code plus PTX.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  if(DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    string(REPLACE "." "" _archs "$ENV{TORCH_CUDA_ARCH_LIST}")
    string(REPLACE " " ";" _archs "${_archs}")
    string(REPLACE "+PTX" "" _archs "${_archs}")
    set(CMAKE_CUDA_ARCHITECTURES ${_archs})
  else()
    set(CMAKE_CUDA_ARCHITECTURES 80-real 90)
  endif()
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
target_sources(groot PRIVATE
  cuda/bfs.cu
  cuda/graph.cu
  cuda/mst.cu
  cuda/tree_scan.cu
  cuda/tree_scan_channels_last.cu)
# The kernels share a few host/device helpers with the CPU code (cpp/src).
target_include_directories(groot PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_compile_definitions(groot PUBLIC GROOT_WITH_CUDA)
target_link_libraries(groot PUBLIC CUDA::cudart)
set_target_properties(groot PROPERTIES CUDA_STANDARD 17 CUDA_VISIBILITY_PRESET hidden
  CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_options(groot PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
