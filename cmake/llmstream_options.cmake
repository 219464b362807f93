include(GNUInstallDirs)

# Warnings are on for our own targets only (third-party headers come from system include paths).
# -Werror is for our CI (scripts/test turns it on), never forced on users or packagers: a new
# compiler's false positive must not stop their build.
option(LLMSTREAM_WERROR "Treat warnings as errors in llmstream's own targets" OFF)
function(llmstream_project_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  if(LLMSTREAM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# The portable code paths only (no SSE2/AVX2), as on aarch64: for testing them on x86-64.
option(LLMSTREAM_PORTABLE "Compile only the portable (non-SIMD) paths of the parsers" OFF)
if(LLMSTREAM_PORTABLE)
  add_compile_definitions(LLMSTREAM_PORTABLE)
endif()

if(LLMSTREAM_SANITIZE)
  string(REPLACE ";" "," _llmstream_sanitizers "${LLMSTREAM_SANITIZE}")
  add_compile_options(-fsanitize=${_llmstream_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_llmstream_sanitizers})
endif()

if(LLMSTREAM_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "LLMSTREAM_BUILD_FUZZERS needs clang (configure with CXX=clang++)")
  endif()
  # Coverage instrumentation for everything; the fuzz executables add the libFuzzer driver.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
