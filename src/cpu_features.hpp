// Optional x86 instruction sets, chosen at run time by the few hot loops that have an AVX2
// version (the build itself targets baseline x86-64, so binaries run on any x86-64 CPU).
//
// LLMSTREAM_PORTABLE (the CMake option of that name) compiles only the portable paths, as on a
// CPU without SSE2 (aarch64, for one), so that the test suite can run them here too.
#pragma once

#if defined(__SSE2__) && !defined(LLMSTREAM_PORTABLE)
/// The SSE2 paths (every x86-64 CPU) are compiled; else the portable ones.
#define LLMSTREAM_HAS_SSE2 1
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(LLMSTREAM_PORTABLE)
#include <immintrin.h>

#include <cstdlib>
#include <string_view>
#define LLMSTREAM_HAS_AVX2_PATHS 1
/// What the AVX2 paths are compiled for: `__attribute__((target(LLMSTREAM_AVX2_TARGET)))`.
#define LLMSTREAM_AVX2_TARGET "avx2,bmi,popcnt"

namespace llmstream::detail {

/// The CPU runs code built for LLMSTREAM_AVX2_TARGET. Every AVX2 CPU has BMI1 and POPCNT, but
/// some virtual machines hide them, so all three are checked. Set during static
/// initialisation, possibly before libgcc's own CPU probe has run: probe first.
/// LLMSTREAM_DISABLE_AVX2 set (and not "0") in the environment selects the SSE2 paths, so that
/// the tests run them on AVX2 machines too.
inline const bool cpu_has_avx2 = [] {
    if (const char* off = std::getenv("LLMSTREAM_DISABLE_AVX2"); off != nullptr && *off != '\0' && std::string_view(off) != "0")
        return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("bmi") != 0 &&
           __builtin_cpu_supports("popcnt") != 0;
}();

}  // namespace llmstream::detail
#endif
