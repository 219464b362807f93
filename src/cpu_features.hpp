// Optional x86 instruction sets, chosen at run time by the few hot loops that have an AVX2
// version (the build itself targets baseline x86-64, so binaries run on any x86-64 CPU).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define LLMSTREAM_HAS_AVX2_PATHS 1

namespace llmstream::detail {

// Set during static initialisation, possibly before libgcc's own CPU probe has run: probe first.
inline const bool cpu_has_avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}();

}  // namespace llmstream::detail
#endif
