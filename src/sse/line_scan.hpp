// Finds the end of a line (the first CR or LF) in one pass and notes whether any byte before it
// is non-ASCII, so that pure-ASCII lines (most LLM JSON chunks) skip UTF-8 validation.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "cpu_features.hpp"

namespace llmstream::sse::detail {

struct line_scan {
    std::size_t end;  // offset of the first CR or LF, or the size when there is none
    bool non_ascii;   // some byte in [0, end) is >= 0x80
};

// The portable scan (SSE2 on x86-64, 8 bytes at a time elsewhere).
inline line_scan scan_line_baseline(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    bool non_ascii = false;
#if defined(__SSE2__)
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r');
    // 64 bytes per branch: the loop is otherwise bound by its own compare-and-branch.
    auto masks16 = [&](const char* at, std::uint64_t& eol, std::uint64_t& high) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
        eol = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr))));
        high = static_cast<unsigned>(_mm_movemask_epi8(v));
    };
    for (; i + 64 <= n; i += 64) {
        std::uint64_t e0, e1, e2, e3, h0, h1, h2, h3;
        masks16(p + i, e0, h0);
        masks16(p + i + 16, e1, h1);
        masks16(p + i + 32, e2, h2);
        masks16(p + i + 48, e3, h3);
        const std::uint64_t eol = e0 | (e1 << 16) | (e2 << 32) | (e3 << 48);
        const std::uint64_t high = h0 | (h1 << 16) | (h2 << 32) | (h3 << 48);
        if (eol != 0) {
            const int at = std::countr_zero(eol);
            const std::uint64_t before = (std::uint64_t{1} << at) - 1u;
            return {i + static_cast<std::size_t>(at), non_ascii || (high & before) != 0};
        }
        non_ascii = non_ascii || high != 0;
    }
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
        const auto eol = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr))));
        const auto high = static_cast<unsigned>(_mm_movemask_epi8(v));
        if (eol != 0) {
            const unsigned at = static_cast<unsigned>(std::countr_zero(eol));
            const unsigned before = (1u << at) - 1u;
            return {i + at, non_ascii || (high & before) != 0};
        }
        non_ascii = non_ascii || high != 0;
    }
#else
    // Eight bytes at a time: a byte equal to CR or LF, or with the high bit set, stops the fast path.
    constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, p + i, 8);
        const std::uint64_t x_lf = w ^ (ones * '\n'), x_cr = w ^ (ones * '\r');
        const std::uint64_t has_eol = ((x_lf - ones) & ~x_lf & highs) | ((x_cr - ones) & ~x_cr & highs);
        if (has_eol) break;
        non_ascii = non_ascii || (w & highs) != 0;
    }
#endif
    for (; i < n; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c == '\n' || c == '\r') return {i, non_ascii};
        non_ascii = non_ascii || c >= 0x80;
    }
    return {n, non_ascii};
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
// 64 bytes per step with AVX2 (the build targets baseline x86-64; this is chosen at run time).
__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline line_scan scan_line_avx2(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    bool non_ascii = false;
    const __m256i lf = _mm256_set1_epi8('\n');
    const __m256i cr = _mm256_set1_epi8('\r');
    for (; i + 64 <= n; i += 64) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32));
        const auto ea = static_cast<std::uint32_t>(
            _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(a, lf), _mm256_cmpeq_epi8(a, cr))));
        const auto eb = static_cast<std::uint32_t>(
            _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(b, lf), _mm256_cmpeq_epi8(b, cr))));
        const std::uint64_t eol = ea | (std::uint64_t{eb} << 32);
        const std::uint64_t high = static_cast<std::uint32_t>(_mm256_movemask_epi8(a)) |
                                   (std::uint64_t{static_cast<std::uint32_t>(_mm256_movemask_epi8(b))} << 32);
        if (eol != 0) {
            const int at = std::countr_zero(eol);
            const std::uint64_t before = (std::uint64_t{1} << at) - 1u;
            return {i + static_cast<std::size_t>(at), non_ascii || (high & before) != 0};
        }
        non_ascii = non_ascii || high != 0;
    }
    const line_scan rest = scan_line_baseline(p + i, n - i);
    return {i + rest.end, non_ascii || rest.non_ascii};
}

#endif

/// For lines expected to be short (`id:7`, `event:result`, `:HTTP_STATUS/200`): one 16-byte look,
/// inline. False when the line does not end within it (then use scan_line).
inline bool scan_short_line([[maybe_unused]] const char* p, [[maybe_unused]] std::size_t n,
                            [[maybe_unused]] line_scan& out) noexcept {
#if defined(__SSE2__)
    if (n < 16) return false;
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto eol = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')))));
    if (eol == 0) return false;
    const unsigned at = static_cast<unsigned>(std::countr_zero(eol));
    out = {at, (static_cast<unsigned>(_mm_movemask_epi8(v)) & ((1u << at) - 1u)) != 0};
    return true;
#else
    return false;
#endif
}

/// The first CR or LF in [p, p + n), with the fastest scan this CPU has.
inline line_scan scan_line(const char* p, std::size_t n) noexcept {
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
    if (llmstream::detail::cpu_has_avx2) return scan_line_avx2(p, n);
#endif
    return scan_line_baseline(p, n);
}

}  // namespace llmstream::sse::detail
