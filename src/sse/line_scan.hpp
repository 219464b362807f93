// Finds line ends (CR or LF) 64 bytes at a time, noting the non-ASCII bytes on the way, so that
// pure-ASCII lines (most LLM JSON chunks) skip UTF-8 validation. One 64-byte mask serves all the
// short lines in it: a DashScope frame's `id:`, `event:` and comment lines usually share one.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu_features.hpp"
#if defined(LLMSTREAM_HAS_SSE2)
#include <emmintrin.h>
#endif

namespace llmstream::sse::detail {

/// Where the line ends and the non-ASCII bytes are in 64 bytes: bit i stands for byte i.
struct block_masks {
    std::uint64_t eol;   // CR or LF
    std::uint64_t high;  // >= 0x80
};

/// The baseline block masks of 64 readable bytes at `p` (SSE2, or byte by byte).
inline block_masks block_masks_baseline(const char* p) noexcept {
    block_masks m{0, 0};
#if defined(LLMSTREAM_HAS_SSE2)
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r');
    for (int k = 0; k < 4; ++k) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
        m.eol |= std::uint64_t{static_cast<unsigned>(
                     _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr))))}
                 << (16 * k);
        m.high |= std::uint64_t{static_cast<unsigned>(_mm_movemask_epi8(v))} << (16 * k);
    }
#else
    for (int i = 0; i < 64; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        m.eol |= std::uint64_t{c == '\n' || c == '\r'} << i;
        m.high |= std::uint64_t{c >= 0x80} << i;
    }
#endif
    return m;
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline block_masks block_masks_avx2(const char* p) noexcept {
    const __m256i lf = _mm256_set1_epi8('\n');
    const __m256i cr = _mm256_set1_epi8('\r');
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const auto ea = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(a, lf), _mm256_cmpeq_epi8(a, cr))));
    const auto eb = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(b, lf), _mm256_cmpeq_epi8(b, cr))));
    return {ea | (std::uint64_t{eb} << 32),
            static_cast<std::uint32_t>(_mm256_movemask_epi8(a)) |
                (std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(b))} << 32)};
}
#endif

/// The first 64-byte block from `block` on (blocks step by 64 up to `end`) holding a CR or LF,
/// with its masks, or the last block (eol == 0) when no line ends before `end`. `first_high` and
/// `last_high`: the first and last byte >= 0x80 in the blocks before it (null when none). Bytes
/// past `end` count as neither.
struct eol_block {
    const char* at;
    block_masks masks;
    const char* first_high;
    const char* last_high;
};

template <block_masks (*Masks)(const char*)>
[[gnu::always_inline]] inline eol_block find_eol_block_with(const char* block, const char* end) noexcept {
    const char* first_high = nullptr;
    const char* last_high = nullptr;
    for (; end - block > 64; block += 64) {
        const block_masks m = Masks(block);
        if (m.eol != 0) return {block, m, first_high, last_high};
        if (m.high != 0) {
            if (first_high == nullptr) first_high = block + std::countr_zero(m.high);
            last_high = block + 63 - std::countl_zero(m.high);
        }
    }
    // The last block, 1 to 64 bytes: never read past them.
    if (end - block == 64) return {block, Masks(block), first_high, last_high};
    char padded[64] = {};
    std::memcpy(padded, block, static_cast<std::size_t>(end - block));
    return {block, Masks(padded), first_high, last_high};
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline eol_block find_eol_block_avx2(const char* block, const char* end) noexcept {
    return find_eol_block_with<block_masks_avx2>(block, end);
}
#endif

/// Requires `block` < `end`.
inline eol_block find_eol_block(const char* block, const char* end) noexcept {
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
    if (llmstream::detail::cpu_has_avx2) return find_eol_block_avx2(block, end);
#endif
    return find_eol_block_with<block_masks_baseline>(block, end);
}

}  // namespace llmstream::sse::detail
