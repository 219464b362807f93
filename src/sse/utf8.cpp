#include "utf8.hpp"

#include <simdjson.h>

namespace llmstream::sse::detail {

bool is_valid_utf8(std::string_view s) noexcept {
    return simdjson::validate_utf8(s.data(), s.size());
}

void append_replacing_invalid_utf8(std::string_view s, std::string& out) {
    constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        const auto lead = static_cast<unsigned char>(s[i]);
        if (lead < 0x80) {
            out.push_back(static_cast<char>(lead));
            ++i;
            continue;
        }
        std::size_t needed = 0;
        unsigned char lower = 0x80;
        unsigned char upper = 0xBF;
        if (lead >= 0xC2 && lead <= 0xDF) {
            needed = 1;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            needed = 2;
            if (lead == 0xE0) lower = 0xA0;
            if (lead == 0xED) upper = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            needed = 3;
            if (lead == 0xF0) lower = 0x90;
            if (lead == 0xF4) upper = 0x8F;
        } else {
            out.append(replacement);
            ++i;
            continue;
        }
        // Accept continuation bytes while they fit; the first misfit ends the subsequence and is
        // then reprocessed as a possible lead byte.
        std::size_t seen = 0;
        std::size_t j = i + 1;
        while (seen < needed && j < n) {
            const auto b = static_cast<unsigned char>(s[j]);
            if (b < lower || b > upper) break;
            lower = 0x80;
            upper = 0xBF;
            ++seen;
            ++j;
        }
        if (seen == needed) {
            out.append(s.substr(i, j - i));
        } else {
            out.append(replacement);
        }
        i = j;
    }
}

}  // namespace llmstream::sse::detail
