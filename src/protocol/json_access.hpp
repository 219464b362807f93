// Reading provider JSON with json_cursor: error objects and helpers shared by the decoders.
#pragma once

#include "json/cursor.hpp"
#include "sse/utf8.hpp"  // is_valid_utf8: one UTF-8 check for the whole library

#include <string>
#include <string_view>

namespace llmstream::protocol {

// The protocol code reads JSON with the library's forward-only reader (src/json/).
using json::cursor_buffer;
using json::json_cursor;
using json::json_kind;

/// The fields of a provider error object, whichever shape it came in.
struct provider_error {
    std::string code;
    std::string message;
    std::string type;
    std::string request_id;
    /// Anthropic's envelope, {"type":"error","error":{"type":"..._error","message"}}: the type
    /// names the error (there is no code).
    bool typed_envelope = false;
};

/// Reads `{"error":{"code","message","type"},"request_id"}`, `{"code","message","request_id"}`,
/// `{"error":"text"}` or `{"object":"error","message","code":400}`. False when `body` is not
/// valid UTF-8 JSON, or is an object carrying none of them.
bool parse_provider_error(std::string_view body, provider_error& out);

/// Reads the members of an error object the cursor has entered (code, message, type,
/// request_id; codes may be numbers). Returns false on malformed JSON.
bool read_error_members(json_cursor& c, provider_error& out);

/// A string, a number as its text, or empty for anything else (which is skipped).
bool read_text_value(json_cursor& c, std::string& out);

}  // namespace llmstream::protocol
