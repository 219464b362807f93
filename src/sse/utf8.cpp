#include "utf8.hpp"

#include <simdjson.h>

namespace llmstream::sse::detail {

namespace {

// Byte by byte, by the table of well-formed sequences (Unicode 15, table 3-7).
bool is_valid_utf8_scalar(const unsigned char* s, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < n) {
        const unsigned lead = s[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t needed;
        unsigned lower = 0x80, upper = 0xBF;  // of the second byte
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
            return false;
        }
        if (n - i - 1 < needed) return false;
        if (s[i + 1] < lower || s[i + 1] > upper) return false;
        for (std::size_t k = 2; k <= needed; ++k)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += needed + 1;
    }
    return true;
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
    // simdjson pads short inputs to a 64-byte block and costs some 200 instructions whatever the
    // length; the few Chinese characters of a streamed token are cheaper byte by byte.
    if (s.size() < 32) return is_valid_utf8_scalar(reinterpret_cast<const unsigned char*>(s.data()), s.size());
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
