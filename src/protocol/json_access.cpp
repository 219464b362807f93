#include "json_access.hpp"

namespace llmstream::protocol {

std::string value_as_text(od::value v) {
    od::json_type t;
    if (v.type().get(t)) return {};
    switch (t) {
    case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) return {};
        return std::string(s);
    }
    case od::json_type::number: {
        std::string_view raw = v.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
            raw.remove_suffix(1);
        return std::string(raw);
    }
    default:
        return {};
    }
}

bool read_error_object(od::object obj, provider_error& out) {
    for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        od::value v;
        if (field.value().get(v)) return false;
        if (key == "code") out.code = value_as_text(v);
        else if (key == "message") out.message = value_as_text(v);
        else if (key == "type") out.type = value_as_text(v);
        else if (key == "request_id") out.request_id = value_as_text(v);
    }
    return true;
}

bool parse_provider_error(std::string_view body, provider_error& out) {
    out = {};
    padded_buffer buffer;
    od::parser parser;
    od::document doc;
    if (parser.iterate(buffer.wrap(body)).get(doc)) return false;
    od::object obj;
    if (doc.get_object().get(obj)) return false;
    bool found = false;
    for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return false;
        od::value v;
        if (field.value().get(v)) return false;
        if (key == "error") {
            od::json_type t;
            if (v.type().get(t)) return false;
            if (t == od::json_type::object) {
                od::object inner;
                if (v.get_object().get(inner) || !read_error_object(inner, out)) return false;
                found = true;
            } else if (t == od::json_type::string) {
                out.message = value_as_text(v);
                found = true;
            }
        } else if (key == "code") {
            out.code = value_as_text(v);
            found = found || !out.code.empty();
        } else if (key == "message") {
            out.message = value_as_text(v);
            found = found || !out.message.empty();
        } else if (key == "type") {
            out.type = value_as_text(v);
        } else if (key == "request_id") {
            out.request_id = value_as_text(v);
        }
    }
    // The whole document must have been valid JSON, not just a prefix.
    return found && at_document_end(doc);
}

}  // namespace llmstream::protocol
