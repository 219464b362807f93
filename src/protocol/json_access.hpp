// simdjson On-Demand helpers shared by the decoders. simdjson stays inside src/.
#pragma once

#include <simdjson.h>

#include <cstring>
#include <stdexcept>

#include <string>
#include <string_view>
#include <vector>

namespace llmstream::protocol {

namespace od = simdjson::ondemand;

/// A reusable buffer that gives simdjson the padding it needs past the end of the input.
class padded_buffer {
public:
    simdjson::padded_string_view wrap(std::string_view s) {
        if (s.size() > (std::size_t(1) << 40)) throw std::length_error("llmstream: JSON document too large");
        const std::size_t need = s.size() + simdjson::SIMDJSON_PADDING;
        if (buffer_.size() < need) buffer_.resize(need + need / 2);
        std::memcpy(buffer_.data(), s.data(), s.size());
        return simdjson::padded_string_view(buffer_.data(), s.size(), buffer_.size());
    }

private:
    std::vector<char> buffer_;
};

/// The fields of a provider error object, whichever shape it came in.
struct provider_error {
    std::string code;
    std::string message;
    std::string type;
    std::string request_id;
};

/// Reads `{"error":{"code","message","type"},"request_id"}`, `{"code","message","request_id"}`,
/// `{"error":"text"}` or `{"object":"error","message","code":400}`. False when `body` is not a
/// JSON object carrying any of them.
bool parse_provider_error(std::string_view body, provider_error& out);

/// Reads an error object already positioned at (the value of "error", or a native error frame).
/// Returns false on malformed JSON.
bool read_error_object(od::object obj, provider_error& out);

/// True when iteration consumed the whole document (no trailing content after the root value).
inline bool at_document_end(od::document& doc) noexcept {
    return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

/// A string, a number written as text, or empty for null/other types.
std::string value_as_text(od::value v);

}  // namespace llmstream::protocol
