// Fuzzes the decoding of error responses and non-streaming bodies: any bytes with any status give
// a classified error (or a completion) and bounded diagnostics, never a crash.
#include "protocol/error_classifier.hpp"
#include "protocol/stream_decoder.hpp"

#include <cstdint>
#include <cstdlib>

using namespace llmstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 2) return 0;
    const int status = 200 + (bytes[0] * 2 + (bytes[1] & 1)) % 400;
    const vendor v = (bytes[1] & 2) ? vendor::dashscope : vendor::openai;
    static constexpr api_dialect dialects[] = {api_dialect::openai_compatible, api_dialect::dashscope_native,
                                               api_dialect::anthropic_messages, api_dialect::openai_responses};
    const api_dialect dialect = dialects[(bytes[1] >> 2) & 3];
    const std::string_view body(reinterpret_cast<const char*>(bytes + 2), size - 2);

    diagnostics diag;
    protocol::response_head head;
    head.status = status;
    head.retry_after = body.substr(0, 29);
    const auto ec = protocol::decode_error_response(v, head, body, diag);
    if (!ec || ec.category() != api_category() || diag.hint.empty()) std::abort();
    if (diag.provider_message.size() > 1030 || diag.provider_code.size() > 1030) std::abort();
    if (diag.retry_after && diag.retry_after->count() < 0) std::abort();

    completion c;
    const auto cec = protocol::decode_completion(dialect, v, status, body, c, diag);
    if (cec && cec.category() != library_category() && cec.category() != api_category()) std::abort();
    return 0;
}
