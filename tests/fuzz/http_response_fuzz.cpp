// Fuzzes the HTTP response path without a socket: raw bytes into http::response_reader (status
// line, header fields, chunk sizes, header floods, interim responses, close-delimited bodies),
// and an event-stream body on into the SSE parser and the stream decoder, as the client does.
// Invariants: no crash; the outcome (error, status, body, reusability) does not depend on how the
// bytes were split; errors are the library's own; the body never holds more bytes than were sent.
#include "support/http_collect.hpp"

#include "protocol/response_stream.hpp"

#include <llmstream/error.hpp>

#include <cstdint>
#include <cstdlib>

using namespace llmstream;
using namespace llmstream::testing;

namespace {

// Splits like a socket might: sizes from the fuzzer's own bytes.
std::vector<std::size_t> pieces_from(std::uint8_t seed) {
    std::vector<std::size_t> p;
    for (int i = 0; i < 8; ++i) p.push_back(1 + ((seed * (i + 7)) % 97));
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t control = bytes[0];
    const std::string_view input(reinterpret_cast<const char*>(bytes + 1), size - 1);
    const bool eof = control & 1;
    http::response_reader::limits limits;
    limits.header = 256 + (control >> 1) * 64;

    const http_outcome whole = feed_http(input, {}, eof, limits);
    const http_outcome split = feed_http(input, pieces_from(control), eof, limits);
    const http_outcome bytewise = feed_http(input, {1}, eof, limits);
    if (!(whole == split) || !(whole == bytewise)) std::abort();
    if (whole.ec && whole.ec != errc::invalid_http_response && whole.ec != errc::connection_closed) std::abort();
    if (whole.body.size() > input.size()) std::abort();
    if (whole.heads > 1) std::abort();
    if (whole.reusable && !whole.done) std::abort();

    // What a streaming client does with a 200 body.
    if (whole.status == 200) {
        for (auto dialect : {api_dialect::openai_compatible, api_dialect::dashscope_native}) {
            diagnostics diag;
            protocol::response_stream rs(dialect, vendor::dashscope, false, sse::limits{});
            std::size_t text = 0;
            auto ec = rs.feed(whole.body, [&](const delta& d) { text += d.content.size() + d.reasoning_content.size(); }, diag);
            if (!ec) ec = rs.finish(diag);
            if (text > 3 * whole.body.size()) std::abort();  // invalid UTF-8 becomes U+FFFD (3 bytes)
            if (ec && ec.category() != library_category() && ec.category() != api_category()) std::abort();
        }
    }
    return 0;
}
