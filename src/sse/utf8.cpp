#include "utf8.hpp"

#include <simdjson.h>

#include <array>

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

// The same table as an automaton over byte classes, for validation one byte at a time with no
// branch per byte: a state is what the bytes read so far still need.
enum byte_class : unsigned char {
    ascii, cont_80_8f, cont_90_9f, cont_a0_bf, never_valid, lead_2, lead_e0, lead_3, lead_ed, lead_f0, lead_4, lead_f4
};
constexpr unsigned class_count = lead_f4 + 1;
enum utf8_state : unsigned char {
    complete,  // between sequences (the only accepting state)
    invalid,
    needs_1,       // one more 80..BF
    needs_2,       // two more 80..BF
    needs_a0_bf,   // after E0: A0..BF, then one more
    needs_80_9f,   // after ED: 80..9F, then one more
    needs_3,       // three more 80..BF
    needs_90_bf,   // after F0: 90..BF, then two more
    needs_80_8f,   // after F4: 80..8F, then two more
};
constexpr unsigned state_count = needs_80_8f + 1;

constexpr auto byte_classes = [] {
    std::array<unsigned char, 256> c{};
    for (unsigned b = 0; b < 256; ++b) {
        if (b < 0x80) c[b] = ascii;
        else if (b < 0x90) c[b] = cont_80_8f;
        else if (b < 0xA0) c[b] = cont_90_9f;
        else if (b < 0xC0) c[b] = cont_a0_bf;
        else if (b < 0xC2) c[b] = never_valid;
        else if (b < 0xE0) c[b] = lead_2;
        else if (b == 0xE0) c[b] = lead_e0;
        else if (b == 0xED) c[b] = lead_ed;
        else if (b < 0xF0) c[b] = lead_3;
        else if (b == 0xF0) c[b] = lead_f0;
        else if (b < 0xF4) c[b] = lead_4;
        else if (b == 0xF4) c[b] = lead_f4;
        else c[b] = never_valid;
    }
    return c;
}();

// transitions[state * class_count + class]: the next state, times class_count (the next row).
constexpr auto transitions = [] {
    std::array<unsigned char, state_count * class_count> t{};
    auto set = [&](utf8_state from, byte_class c, utf8_state to) {
        t[unsigned{from} * class_count + unsigned{c}] = static_cast<unsigned char>(unsigned{to} * class_count);
    };
    for (unsigned s = 0; s < state_count; ++s)
        for (unsigned c = 0; c < class_count; ++c) set(static_cast<utf8_state>(s), static_cast<byte_class>(c), invalid);
    set(complete, ascii, complete);
    set(complete, lead_2, needs_1);
    set(complete, lead_e0, needs_a0_bf);
    set(complete, lead_3, needs_2);
    set(complete, lead_ed, needs_80_9f);
    set(complete, lead_f0, needs_90_bf);
    set(complete, lead_4, needs_3);
    set(complete, lead_f4, needs_80_8f);
    for (byte_class c : {cont_80_8f, cont_90_9f, cont_a0_bf}) {
        set(needs_1, c, complete);
        set(needs_2, c, needs_1);
        set(needs_3, c, needs_2);
    }
    set(needs_a0_bf, cont_a0_bf, needs_1);
    set(needs_80_9f, cont_80_8f, needs_1);
    set(needs_80_9f, cont_90_9f, needs_1);
    set(needs_90_bf, cont_90_9f, needs_2);
    set(needs_90_bf, cont_a0_bf, needs_2);
    set(needs_80_8f, cont_80_8f, needs_2);
    return t;
}();

bool is_valid_utf8_scalar(const unsigned char* s, std::size_t n) noexcept {
    unsigned state = complete;
    for (std::size_t i = 0; i < n; ++i) state = transitions[state + byte_classes[s[i]]];
    return state == complete;
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
