// UTF-8 checks for the event-stream parser: validation and WHATWG-style replacement.
#pragma once

#include <string>
#include <string_view>

namespace llmstream::sse::detail {

/// True when `s` is well-formed UTF-8.
bool is_valid_utf8(std::string_view s) noexcept;

/// Appends `s` to `out` decoded as the WHATWG Encoding Standard's UTF-8 decoder does: each
/// maximal ill-formed subsequence becomes one U+FFFD (EF BF BD).
void append_replacing_invalid_utf8(std::string_view s, std::string& out);

}  // namespace llmstream::sse::detail
