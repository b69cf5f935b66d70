# SPDX-License-Identifier: MIT
# Warnings and sanitizers for every target of the project (not for dependencies).
add_library(aiod_build_flags INTERFACE)
target_compile_options(aiod_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wimplicit-fallthrough -Wformat=2)
# GCC 12 at -O3 reports -Wrestrict on std::string concatenation that cannot
# overlap (GCC bug 105651); the warning would stop Release builds with
# AIOD_WERROR for nothing.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(aiod_build_flags INTERFACE -Wno-restrict)
endif()
if(AIOD_WERROR)
  target_compile_options(aiod_build_flags INTERFACE -Werror)
endif()
if(AIOD_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # TSan does not model atomic_thread_fence; the fences order shared memory
  # with another process, which TSan cannot see anyway.
  target_compile_options(aiod_build_flags INTERFACE -Wno-tsan)
endif()
if(AIOD_SANITIZE)
  target_compile_options(aiod_build_flags INTERFACE -fsanitize=${AIOD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12's flow analysis sees through the sanitizers' instrumentation
    # poorly and reports maybe-uninitialized in libstdc++ (std::regex's
    # std::function); the sanitizers themselves check what this would.
    target_compile_options(aiod_build_flags INTERFACE -Wno-maybe-uninitialized)
  endif()
  target_link_options(aiod_build_flags INTERFACE -fsanitize=${AIOD_SANITIZE})
endif()
