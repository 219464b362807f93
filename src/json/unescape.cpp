#include "json/unescape.hpp"

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

namespace llmstream::json::detail {
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

// Which bytes of a block are escaped by a backslash before them, given the bitmask `b` of its
// backslashes and that the block does not start inside an escape; `next`: whether the byte after
// a 64-byte block is (for a 32-byte block, bit 32 of the result tells). In a run of backslashes
// the second, fourth, ... are escaped, and the byte after the run too when the run is odd: among
// the bytes after a backslash, the odd bits for a run starting on an even bit, the even bits for
// one starting on an odd bit. One addition sorts the runs: adding the first bit of each odd-start
// run carries through it and clears it, leaving set (once shifted by one) exactly the bits where
// the even/odd choice flips.
inline std::uint64_t escaped_bytes(std::uint64_t b, bool& next) noexcept {
    constexpr std::uint64_t even = 0x5555'5555'5555'5555ULL;
    const std::uint64_t follows = b << 1;                    // bytes right after a backslash
    const std::uint64_t odd_starts = b & ~even & ~follows;   // runs starting on an odd bit
    const std::uint64_t sorted = odd_starts + b;             // a carry out of bit 63 only affects bit 65
    next = ((b & ~sorted) >> 63) != 0;                       // bit 64: even, after bit 63, flipped by bit 63
    return (even ^ (sorted << 1)) & follows;
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

// 32 bytes of a string body and what a first look at them tells.
struct block32 {
    __m256i bytes, is_quote, is_backslash;
    std::uint32_t backslashes;  ///< bit i: byte i is a backslash
    std::uint32_t enders;       ///< a quote or a control character (each ends the string unless escaped)
};

__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline block32 look_at(const char* src) noexcept {
    block32 b;
    b.bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    b.is_backslash = _mm256_cmpeq_epi8(b.bytes, _mm256_set1_epi8('\\'));
    b.is_quote = _mm256_cmpeq_epi8(b.bytes, _mm256_set1_epi8('"'));
    const __m256i below_space = _mm256_set1_epi8(0x1F);
    const __m256i ctrl = _mm256_cmpeq_epi8(_mm256_max_epu8(b.bytes, below_space), below_space);
    b.backslashes = static_cast<std::uint32_t>(_mm256_movemask_epi8(b.is_backslash));
    b.enders = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(b.is_quote, ctrl)));
    return b;
}

// The one-letter escapes. \b \f \n \r \t are looked up by ((c - 'b') >> 1) & 15, which tells
// those five apart; a byte is one of them when the table's letter at its index is the byte itself
// (unused entries hold 'b', whose own index is 0, so nothing else matches). \" \\ \/ decode to
// themselves. Returns the mask of bytes that are such letters; `decoded` is the block with the
// escaped ones (bits of `escaped`) replaced by the characters they stand for.
__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline std::uint32_t decode_letters(const block32& b, std::uint32_t escaped,
                                                                                     __m256i& decoded) noexcept {
    const __m256i index = _mm256_and_si256(_mm256_srli_epi16(_mm256_sub_epi8(b.bytes, _mm256_set1_epi8('b')), 1),
                                           _mm256_set1_epi8(0x0F));
    const __m256i letter_at = _mm256_setr_epi8('b', 'b', 'f', 'b', 'b', 'b', 'n', 'b', 'r', 't', 'b', 'b', 'b', 'b', 'b', 'b',  //
                                               'b', 'b', 'f', 'b', 'b', 'b', 'n', 'b', 'r', 't', 'b', 'b', 'b', 'b', 'b', 'b');
    const __m256i control_at = _mm256_setr_epi8('\b', 0, '\f', 0, 0, 0, '\n', 0, '\r', '\t', 0, 0, 0, 0, 0, 0,  //
                                                '\b', 0, '\f', 0, 0, 0, '\n', 0, '\r', '\t', 0, 0, 0, 0, 0, 0);
    const __m256i is_control_letter = _mm256_cmpeq_epi8(_mm256_shuffle_epi8(letter_at, index), b.bytes);
    const __m256i is_self = _mm256_or_si256(_mm256_or_si256(b.is_quote, b.is_backslash),
                                            _mm256_cmpeq_epi8(b.bytes, _mm256_set1_epi8('/')));
    decoded = _mm256_blendv_epi8(b.bytes, _mm256_shuffle_epi8(control_at, index),
                                 _mm256_and_si256(is_control_letter, bits_to_bytes(escaped)));
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(is_control_letter, is_self)));
}

__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline void pack8(__m128i bytes, unsigned keep, char* dst) noexcept {
    // Writes 8 bytes at dst, the kept ones first.
    const __m128i control = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(pack_controls[keep].data()));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_shuffle_epi8(bytes, control));
}

// Writes the bytes of `block` whose bits are set in `keep` to dst, packed (32 bytes written).
__attribute__((target(LLMSTREAM_AVX2_TARGET))) inline void pack32(__m256i block, std::uint32_t keep, char* dst) noexcept {
    const __m128i low = _mm256_castsi256_si128(block);
    const __m128i high = _mm256_extracti128_si256(block, 1);
    pack8(low, keep & 0xFF, dst);
    pack8(_mm_srli_si128(low, 8), (keep >> 8) & 0xFF, dst + std::popcount(keep & 0xFFu));
    pack8(high, (keep >> 16) & 0xFF, dst + std::popcount(keep & 0xFFFFu));
    pack8(_mm_srli_si128(high, 8), keep >> 24, dst + std::popcount(keep & 0xFF'FFFFu));
}

}  // namespace

__attribute__((target(LLMSTREAM_AVX2_TARGET))) unescape_stop unescape_avx2(const char* src, const char* src_end,
                                                                              char* dst) noexcept {
    // 64 bytes per step while they last: the mask arithmetic is shared by twice the bytes. The
    // step ends at an unescaped quote or control character, or at the backslash of an escape that
    // is not one letter (left to the caller); else at the block's end, or one byte before it when
    // the last byte starts an escape whose letter is in the next block.
    while (src_end - src >= 64) {
        const block32 lo = look_at(src);
        const block32 hi = look_at(src + 32);
        const std::uint64_t backslashes = lo.backslashes | std::uint64_t{hi.backslashes} << 32;
        const std::uint64_t enders = lo.enders | std::uint64_t{hi.enders} << 32;
        if (backslashes == 0) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), lo.bytes);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), hi.bytes);
            if (enders == 0) {
                src += 64;
                dst += 64;
                continue;
            }
            const int at = std::countr_zero(enders);
            return {src + at, dst + at};
        }
        bool next = false;
        const std::uint64_t escaped = escaped_bytes(backslashes, next);
        __m256i lo_decoded, hi_decoded;
        const std::uint64_t letters = decode_letters(lo, static_cast<std::uint32_t>(escaped), lo_decoded) |
                                      std::uint64_t{decode_letters(hi, static_cast<std::uint32_t>(escaped >> 32), hi_decoded)} << 32;
        const std::uint64_t stops = (enders & ~escaped) | ((escaped & ~letters) >> 1);
        unsigned take = next ? 63u : 64u;
        const bool stopped = stops != 0 && static_cast<unsigned>(std::countr_zero(stops)) < take;
        if (stopped) take = static_cast<unsigned>(std::countr_zero(stops));
        const std::uint64_t keep = ~(backslashes & ~escaped) & (take == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << take) - 1u);
        pack32(lo_decoded, static_cast<std::uint32_t>(keep), dst);
        pack32(hi_decoded, static_cast<std::uint32_t>(keep >> 32), dst + std::popcount(static_cast<std::uint32_t>(keep)));
        dst += std::popcount(keep);
        src += take;
        if (stopped) return {src, dst};
    }
    // The rest, 32 bytes per step, by the same rules.
    for (;;) {
        if (src_end - src < 32) return {src, dst};
        const block32 b = look_at(src);
        if (b.backslashes == 0) {
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), b.bytes);
            if (b.enders == 0) {
                src += 32;
                dst += 32;
                continue;
            }
            const int at = std::countr_zero(b.enders);
            return {src + at, dst + at};
        }
        bool unused = false;
        const std::uint64_t escaped_all = escaped_bytes(b.backslashes, unused);  // bit 32: the next byte's
        const auto escaped = static_cast<std::uint32_t>(escaped_all);
        __m256i decoded;
        const std::uint32_t letters = decode_letters(b, escaped, decoded);
        const std::uint32_t stops = (b.enders & ~escaped) | ((escaped & ~letters) >> 1);
        unsigned take = (escaped_all >> 32) != 0 ? 31u : 32u;
        const bool stopped = stops != 0 && static_cast<unsigned>(std::countr_zero(stops)) < take;
        if (stopped) take = static_cast<unsigned>(std::countr_zero(stops));
        const std::uint32_t keep = ~(b.backslashes & ~escaped) & (take == 32 ? ~0u : (1u << take) - 1u);
        pack32(decoded, keep, dst);
        dst += std::popcount(keep);
        src += take;
        if (stopped) return {src, dst};
    }
}

}  // namespace llmstream::json::detail
#endif
