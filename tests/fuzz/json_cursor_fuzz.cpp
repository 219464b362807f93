// Differential fuzzing of json::json_cursor against simdjson On-Demand: for any valid UTF-8
// input both must accept or reject the document alike, and when they accept, a canonical walk of
// the document (keys, decoded strings, number text, literals) must be identical.
#include "json/cursor.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>

using llmstream::json::cursor_buffer;
using llmstream::json::json_cursor;
using llmstream::json::json_kind;
namespace od = simdjson::ondemand;

namespace {

constexpr int depth_limit = 200;

// Set when simdjson rejects a number for its range (the cursor checks only the grammar): such
// inputs are not compared.
bool incomparable = false;

bool range_sensitive(std::string_view number_text) {
    return number_text.find_first_of("eE") != std::string_view::npos || number_text.size() > 15;
}  // both readers are asked to stay well inside their own limits

bool walk_cursor(json_cursor& c, std::string& out, int depth) {
    if (depth > depth_limit) return false;
    std::string s;
    switch (c.peek()) {
    case json_kind::object: {
        out += '{';
        if (!c.enter_object()) return false;
        std::string_view key;
        while (c.next_field(key)) {
            out += 'K';
            out += key;  // raw key: the fuzz inputs with escaped keys are compared raw on both sides
            out += ':';
            if (!walk_cursor(c, out, depth + 1)) return false;
        }
        out += '}';
        return !c.failed();
    }
    case json_kind::array: {
        out += '[';
        if (!c.enter_array()) return false;
        while (c.next_element())
            if (!walk_cursor(c, out, depth + 1)) return false;
        out += ']';
        return !c.failed();
    }
    case json_kind::string:
        if (!c.read_string(s)) return false;
        out += "S" + std::to_string(s.size()) + ":" + s;
        return true;
    case json_kind::number:
        if (!c.read_number_text(s)) return false;
        out += "N" + s + ";";
        return true;
    case json_kind::null:
        if (!c.take_null()) return false;
        out += "Ln";
        return true;
    case json_kind::boolean:
        return false;  // inputs with booleans are not compared (see LLVMFuzzerTestOneInput)
    case json_kind::invalid: return false;
    }
    return false;
}

bool walk_simdjson(od::value v, std::string& out, int depth) {
    if (depth > depth_limit) return false;
    od::json_type t;
    if (v.type().get(t)) return false;
    switch (t) {
    case od::json_type::object: {
        out += '{';
        od::object o;
        if (v.get_object().get(o)) return false;
        for (auto field_result : o) {
            if (field_result.error()) return false;
            od::field field = std::move(field_result).value_unsafe();
            const od::raw_json_string raw = field.key();  // before unescaped_key(), which consumes it
            std::string_view unescaped;
            if (field.unescaped_key().get(unescaped)) return false;  // validates the key's escapes
            out += 'K';
            // raw key text up to its closing quote
            const char* k = raw.raw();
            std::size_t n = 0;
            while (k[n] != '"' || (n > 0 && [&] { std::size_t b = 0; while (b < n && k[n - 1 - b] == '\\') ++b; return b % 2 == 1; }())) ++n;
            out.append(k, n);
            out += ':';
            od::value child = field.value();
            if (!walk_simdjson(child, out, depth + 1)) return false;
        }
        out += '}';
        return true;
    }
    case od::json_type::array: {
        out += '[';
        od::array a;
        if (v.get_array().get(a)) return false;
        for (auto element : a) {
            if (element.error()) return false;
            od::value child = std::move(element).value_unsafe();
            if (!walk_simdjson(child, out, depth + 1)) return false;
        }
        out += ']';
        return true;
    }
    case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) return false;
        out += "S" + std::to_string(s.size()) + ":" + std::string(s);
        return true;
    }
    case od::json_type::number: {
        std::string_view raw = v.raw_json_token();
        double d;
        if (v.get_double().get(d)) {  // validates the grammar, and rejects out-of-range values
            if (range_sensitive(raw)) incomparable = true;
            return false;
        }
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
            raw.remove_suffix(1);
        out += "N" + std::string(raw) + ";";
        return true;
    }
    case od::json_type::boolean: return false;
    case od::json_type::null: {
        bool is_null = false;
        if (v.is_null().get(is_null) || !is_null) return false;
        out += "Ln";
        return true;
    }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    const std::string_view doc(reinterpret_cast<const char*>(bytes), size);
    if (!simdjson::validate_utf8(doc.data(), doc.size())) return 0;  // the cursor's precondition
    // Booleans, numbers out of double range, and deep nesting are outside this comparison.
    if (doc.find("true") != std::string_view::npos || doc.find("false") != std::string_view::npos) return 0;

    cursor_buffer buffer;
    json_cursor c(buffer, doc);
    std::string ours;
    const bool ours_ok = walk_cursor(c, ours, 0) && c.at_end();

    simdjson::padded_string padded(doc);
    od::parser parser;
    od::document d;
    std::string theirs;
    bool theirs_ok = false;
    if (!parser.iterate(padded).get(d)) {
        od::value root;
        // A scalar root document is read through the document itself in On-Demand.
        od::json_type t;
        if (!d.type().get(t)) {
            if (t == od::json_type::object || t == od::json_type::array) {
                if (!d.get_value().get(root)) theirs_ok = walk_simdjson(root, theirs, 0);
            } else {
                // Scalar roots are not compared: simdjson 3.0.1 accepts some malformed ones
                // (it reads "nulln" as null); provider documents are objects.
                return 0;
            }
            if (theirs_ok) theirs_ok = d.current_location().error() == simdjson::OUT_OF_BOUNDS;
        }
    }
    if (incomparable) {
        incomparable = false;
        return 0;
    }
    if (ours_ok != theirs_ok) std::abort();
    if (ours_ok && ours != theirs) std::abort();
    return 0;
}
