#include "json_unescape.hpp"

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace llmstream::protocol::detail {
namespace {

// For each 8-bit mask of bytes to keep, the pshufb control that packs those bytes to the front.
constexpr auto pack_controls = [] {
    std::array<std::array<std::uint8_t, 8>, 256> t{};
    for (unsigned keep = 0; keep < 256; ++keep) {
        unsigned n = 0;
        for (unsigned i = 0; i < 8; ++i)
            if (keep & (1u << i)) t[keep][n++] = static_cast<std::uint8_t>(i);
        for (; n < 8; ++n) t[keep][n] = 0x80;  // zero fill (never counted as output)
    }
    return t;
}();

// Which bytes of a 32-byte block are escaped by a backslash before them, given the bitmask of
// backslashes and that the block does not start inside an escape (bit 32 of the result: the
// next block's first byte). In a run of backslashes the second, fourth, ... are escaped, and the
// byte after the run too when the run is odd: among the bytes after a backslash, the odd bits for
// a run starting on an even bit, the even bits for one starting on an odd bit. One addition sorts
// the runs: adding the first bit of each odd-start run carries through it and clears it, leaving
// set (once shifted by one) exactly the bits where the even/odd choice flips.
inline std::uint64_t escaped_bytes(std::uint32_t backslashes) noexcept {
    constexpr std::uint64_t even = 0x5555'5555'5555'5555ULL;
    const std::uint64_t b = backslashes;
    const std::uint64_t follows = b << 1;                        // bytes right after a backslash
    const std::uint64_t odd_starts = b & ~even & ~follows;        // runs starting on an odd bit
    const std::uint64_t flips = (odd_starts + b) << 1;
    return (even ^ flips) & follows;
}

__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline __m256i bits_to_bytes(std::uint32_t mask) noexcept {
    // Byte i becomes 0xFF when bit i of `mask` is set.
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(mask)),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040'2010'0804'0201ULL));
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline char* pack8(__m128i bytes, unsigned keep, char* dst) noexcept {
    const __m128i control = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pack_controls[keep].data()));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_shuffle_epi8(bytes, control));
    return dst + std::popcount(keep);
}

}  // namespace

__attribute__((target(LLMSTREAM_AVX2_TARGET))) unescape_stop unescape_avx2(const char* src, const char* src_end,
                                                                              char* dst) noexcept {
    const __m256i quote = _mm256_set1_epi8('"');
    const __m256i backslash = _mm256_set1_epi8('\\');
    const __m256i below_space = _mm256_set1_epi8(0x1F);
    for (;;) {
        if (src_end - src < 32) return {src, dst};
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
        const __m256i is_backslash = _mm256_cmpeq_epi8(v, backslash);
        const __m256i is_quote = _mm256_cmpeq_epi8(v, quote);
        const auto backslashes = static_cast<std::uint32_t>(_mm256_movemask_epi8(is_backslash));
        const __m256i ctrl = _mm256_cmpeq_epi8(_mm256_max_epu8(v, below_space), below_space);
        const auto enders = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(is_quote, ctrl)));
        if (backslashes == 0) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v);
            if (enders == 0) {
                src += 32;
                dst += 32;
                continue;
            }
            const int at = std::countr_zero(enders);
            return {src + at, dst + at};
        }

        const std::uint64_t escaped_all = escaped_bytes(backslashes);
        const auto escaped = static_cast<std::uint32_t>(escaped_all);
        const std::uint32_t escapes = backslashes & ~escaped;  // backslashes that start an escape

        // The one-letter escapes. \b \f \n \r \t are looked up by ((c - 'b') >> 1) & 15, which
        // tells those five apart; a byte is one of them when the table's letter at its index is
        // the byte itself (unused entries hold 'b', whose own index is 0, so nothing else
        // matches). \" \\ \/ decode to themselves.
        const __m256i index = _mm256_and_si256(_mm256_srli_epi16(_mm256_sub_epi8(v, _mm256_set1_epi8('b')), 1),
                                               _mm256_set1_epi8(0x0F));
        const __m256i letter_at = _mm256_setr_epi8('b', 'b', 'f', 'b', 'b', 'b', 'n', 'b', 'r', 't', 'b', 'b', 'b', 'b', 'b', 'b',  //
                                                   'b', 'b', 'f', 'b', 'b', 'b', 'n', 'b', 'r', 't', 'b', 'b', 'b', 'b', 'b', 'b');
        const __m256i control_at = _mm256_setr_epi8('\b', 0, '\f', 0, 0, 0, '\n', 0, '\r', '\t', 0, 0, 0, 0, 0, 0,  //
                                                    '\b', 0, '\f', 0, 0, 0, '\n', 0, '\r', '\t', 0, 0, 0, 0, 0, 0);
        const __m256i is_control_letter = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(letter_at, index), v);
        const __m256i is_self = _mm256_or_si256(_mm256_or_si256(is_quote, is_backslash),
                                                _mm256_cmpeq_epi8(v, _mm256_set1_epi8('/')));
        const auto letters = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(is_control_letter, is_self)));
        const __m256i decoded = _mm256_blendv_epi8(v, _mm256_shuffle_epi8(control_at, index),
                                                   _mm256_and_si256(is_control_letter, bits_to_bytes(escaped)));

        // Where this block's work ends: at an unescaped quote or control character, or at the
        // backslash of an escape that is not one letter (left to the caller); else at the block's
        // end, or one byte before it when the last byte starts an escape whose letter is in the
        // next block.
        const std::uint32_t stops = (enders & ~escaped) | ((escaped & ~letters) >> 1);
        unsigned take = (escaped_all >> 32) != 0 ? 31u : 32u;
        const bool stopped = stops != 0 && static_cast<unsigned>(std::countr_zero(stops)) < take;
        if (stopped) take = static_cast<unsigned>(std::countr_zero(stops));
        const std::uint32_t in_block = take == 32 ? ~0u : (1u << take) - 1u;
        const std::uint32_t keep = ~escapes & in_block;

        const __m128i low = _mm256_castsi256_si128(decoded);
        const __m128i high = _mm256_extracti128_si256(decoded, 1);
        char* out = dst;
        out = pack8(low, keep & 0xFF, out);
        out = pack8(_mm_srli_si128(low, 8), (keep >> 8) & 0xFF, out);
        out = pack8(high, (keep >> 16) & 0xFF, out);
        out = pack8(_mm_srli_si128(high, 8), keep >> 24, out);
        src += take;
        dst = out;
        if (stopped) return {src, dst};
    }
}

}  // namespace llmstream::protocol::detail
#endif
