#include "utf8.hpp"

#include <simdjson.h>

namespace llmstream::sse::detail {

namespace {

// What a lead byte >= 0x80 starts, by the table of well-formed sequences (Unicode 15, table
// 3-7): how many continuation bytes follow, and the range of the first of them (the others are
// 80..BF). False for a byte that starts no sequence.
struct sequence {
    std::size_t continuations;
    unsigned char lower, upper;
};
bool sequence_of(unsigned char lead, sequence& seq) noexcept {
    seq = {0, 0x80, 0xBF};
    if (lead >= 0xC2 && lead <= 0xDF) {
        seq.continuations = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        seq.continuations = 2;
        if (lead == 0xE0) seq.lower = 0xA0;
        if (lead == 0xED) seq.upper = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        seq.continuations = 3;
        if (lead == 0xF0) seq.lower = 0x90;
        if (lead == 0xF4) seq.upper = 0x8F;
    } else {
        return false;
    }
    return true;
}

bool is_valid_utf8_scalar(const unsigned char* s, std::size_t n) noexcept {
    std::size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            ++i;
            continue;
        }
        sequence seq;
        if (!sequence_of(s[i], seq) || n - i - 1 < seq.continuations) return false;
        if (s[i + 1] < seq.lower || s[i + 1] > seq.upper) return false;
        for (std::size_t k = 2; k <= seq.continuations; ++k)
            if ((s[i + k] & 0xC0) != 0x80) return false;
        i += seq.continuations + 1;
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
        sequence seq;
        if (!sequence_of(lead, seq)) {
            out.append(replacement);
            ++i;
            continue;
        }
        const std::size_t needed = seq.continuations;
        unsigned char lower = seq.lower;
        unsigned char upper = seq.upper;
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
