# Some GCC installs ship only a static libstdc++ (libstdc++.a), and link it into every shared
# object they build. A module built that way carries a private copy of the C++ runtime beside the
# libstdc++.so.6 that torch runs on: the two do not share streams, locales or exceptions, and the
# first error an operator raises crashes the process. groot_link_shared_cxx_runtime links the given
# targets against the libstdc++.so.6 that `python` has loaded once torch is imported instead; it
# changes nothing where the compiler links libstdc++ dynamically anyway.
function(groot_link_shared_cxx_runtime)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                  OUTPUT_VARIABLE _compiler_libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(IS_ABSOLUTE "${_compiler_libstdcxx}")
    return()
  endif()
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
      "import torch; print(next((l.split()[-1] for l in open('/proc/self/maps') if 'libstdc++.so' in l), ''))"
    OUTPUT_VARIABLE _torch_libstdcxx OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _torch_libstdcxx)
    message(FATAL_ERROR
      "${CMAKE_CXX_COMPILER} has no shared libstdc++, and no libstdc++.so was found beside torch: "
      "a module linked with a static libstdc++ crashes on its first error. Set CXX to a compiler "
      "that links libstdc++ dynamically.")
  endif()
  message(STATUS "groot-core: ${CMAKE_CXX_COMPILER} links libstdc++ statically; "
                 "linking ${_torch_libstdcxx}, torch's, instead")
  foreach(target IN LISTS ARGN)
    target_link_libraries(${target} PRIVATE "${_torch_libstdcxx}")
  endforeach()
endfunction()
