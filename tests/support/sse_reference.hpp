// A deliberately naive transcription of WHATWG HTML 9.2.6 used as a test oracle: decode the
// whole stream, split it into lines, interpret each line. No chunking, no limits, no cleverness.
#pragma once

#include <climits>
#include <optional>
#include <string>
#include <vector>

namespace llmstream::testing {

struct recorded_event {
    std::string type, data, id;
    bool operator==(const recorded_event&) const = default;
};

struct reference_result {
    std::vector<recorded_event> events;
    std::optional<long long> retry_ms;
    std::string last_event_id;
};

// WHATWG Encoding Standard UTF-8 decode with replacement, written as the spec's byte loop.
inline std::string reference_utf8_decode(const std::string& in) {
    std::string out;
    unsigned needed = 0, seen = 0;
    unsigned char lower = 0x80, upper = 0xBF;
    std::string pending;
    for (std::size_t i = 0; i < in.size();) {
        const auto b = static_cast<unsigned char>(in[i]);
        if (needed == 0) {
            ++i;
            if (b <= 0x7F) { out.push_back(static_cast<char>(b)); }
            else if (b >= 0xC2 && b <= 0xDF) { needed = 1; pending.assign(1, static_cast<char>(b)); }
            else if (b >= 0xE0 && b <= 0xEF) {
                if (b == 0xE0) lower = 0xA0;
                if (b == 0xED) upper = 0x9F;
                needed = 2; pending.assign(1, static_cast<char>(b));
            } else if (b >= 0xF0 && b <= 0xF4) {
                if (b == 0xF0) lower = 0x90;
                if (b == 0xF4) upper = 0x8F;
                needed = 3; pending.assign(1, static_cast<char>(b));
            } else { out += "\xEF\xBF\xBD"; }
            continue;
        }
        if (b < lower || b > upper) {  // error; the byte is processed again (not consumed)
            needed = seen = 0; lower = 0x80; upper = 0xBF;
            out += "\xEF\xBF\xBD";
            continue;
        }
        ++i;
        lower = 0x80; upper = 0xBF;
        pending.push_back(static_cast<char>(b));
        if (++seen == needed) { out += pending; needed = seen = 0; }
    }
    if (needed != 0) out += "\xEF\xBF\xBD";
    return out;
}

inline reference_result reference_parse(const std::string& bytes) {
    std::string text = reference_utf8_decode(bytes);
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
    reference_result r;
    std::string data, type, id_buffer;
    bool has_data = false;  // the data buffer is non-empty (it always ends in LF while building)
    std::size_t pos = 0;
    while (true) {
        const std::size_t eol = text.find_first_of("\r\n", pos);
        if (eol == std::string::npos) break;  // an unterminated last line is discarded
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (text[eol] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;

        if (line.empty()) {
            r.last_event_id = id_buffer;
            if (has_data) {
                data.pop_back();  // the final LF
                r.events.push_back({type.empty() ? "message" : type, data, id_buffer});
            }
            data.clear(); type.clear(); has_data = false;
            continue;
        }
        if (line[0] == ':') continue;
        std::string field = line, value;
        if (const auto c = line.find(':'); c != std::string::npos) {
            field = line.substr(0, c);
            value = line.substr(c + 1);
            if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        }
        if (field == "event") type = value;
        else if (field == "data") { data += value; data += '\n'; has_data = true; }
        else if (field == "id") { if (value.find('\0') == std::string::npos) id_buffer = value; }
        else if (field == "retry") {
            if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos) {
                long long ms = 0;  // saturating, as the parser documents
                for (char c : value)
                    ms = ms > (LLONG_MAX - (c - '0')) / 10 ? LLONG_MAX : ms * 10 + (c - '0');
                r.retry_ms = ms;
            }
        }
    }
    return r;
}

}  // namespace llmstream::testing
