#include "json_access.hpp"

namespace llmstream::protocol {

using sse::detail::is_valid_utf8;

bool read_text_value(json_cursor& c, std::string& out) {
    switch (c.peek()) {
    case json_kind::string: return c.read_string(out);
    case json_kind::number: return c.read_number_text(out);
    default:
        out.clear();
        return c.skip();
    }
}

bool read_error_members(json_cursor& c, provider_error& out) {
    std::string_view key;
    while (c.next_field(key)) {
        bool ok = true;
        if (key == "code") ok = read_text_value(c, out.code);
        else if (key == "message") ok = read_text_value(c, out.message);
        else if (key == "type") ok = read_text_value(c, out.type);
        else if (key == "request_id") ok = read_text_value(c, out.request_id);
        else ok = c.skip();
        if (!ok) return false;
    }
    return !c.failed();
}

bool parse_provider_error(std::string_view body, provider_error& out) {
    out = {};
    if (!is_valid_utf8(body)) return false;
    cursor_buffer buffer;
    json_cursor c(buffer, body);
    if (c.peek() != json_kind::object || !c.enter_object()) return false;
    bool found = false;
    std::string_view key;
    while (c.next_field(key)) {
        bool ok = true;
        if (key == "error") {
            const json_kind k = c.peek();
            if (k == json_kind::object) {
                provider_error nested;
                ok = c.enter_object() && read_error_members(c, nested);
                out.typed_envelope = out.type == "error" && !nested.type.empty();
                if (!nested.code.empty()) out.code = nested.code;
                if (!nested.message.empty()) out.message = nested.message;
                if (!nested.type.empty()) out.type = nested.type;
                if (!nested.request_id.empty()) out.request_id = nested.request_id;
                found = true;
            } else if (k == json_kind::string) {
                ok = c.read_string(out.message);
                found = true;
            } else {
                ok = c.skip();
            }
        } else if (key == "code" && out.code.empty()) {
            ok = read_text_value(c, out.code);
            found = found || !out.code.empty();
        } else if (key == "message" && out.message.empty()) {
            ok = read_text_value(c, out.message);
            found = found || !out.message.empty();
        } else if (key == "type" && out.type.empty()) {
            ok = read_text_value(c, out.type);
        } else if (key == "request_id") {
            ok = read_text_value(c, out.request_id);
        } else {
            ok = c.skip();
        }
        if (!ok) return false;
    }
    return found && c.at_end();
}

}  // namespace llmstream::protocol
