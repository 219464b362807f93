// Decoding of JSON string bodies dense in escapes (code, or prose with many line breaks), 64 bytes
// per step (32 near the end): json_cursor::append_string hands over here at a string's third
// escape when the CPU has AVX2. One escape per loop turn costs a mispredicted branch or two per
// escape; this path has no per-escape branch at all.
#pragma once

#include "cpu_features.hpp"

namespace llmstream::json::detail {

/// Where decoding stopped: `src` at the closing quote, a control character, or the backslash of
/// an escape left to the caller (\u and invalid ones); `dst` after the last byte written.
struct unescape_stop {
    const char* src;
    char* dst;
};

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
/// Decodes the string body at `src` (not in the middle of an escape) into `dst`: plain bytes are
/// copied and the one-letter escapes (\" \\ \/ \b \f \n \r \t) decoded, until the first byte it
/// does not take: the closing quote, a raw control character (the document's NUL sentinel too),
/// or the backslash of a \u or invalid escape. Reads up to 63 bytes past that stop, and nothing at
/// or past `src_end`: it also stops (not inside an escape) where fewer than 32 bytes remain before
/// `src_end`. Writes past the decoded end, but never at or past dst + (src_end - src). Call only
/// when llmstream::detail::cpu_has_avx2.
unescape_stop unescape_avx2(const char* src, const char* src_end, char* dst) noexcept;
#endif

}  // namespace llmstream::json::detail
