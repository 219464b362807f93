// Fuzzes the streaming response path of both dialects (SSE framing + decoder + accumulator):
// no crash, no sanitizer finding, bounded memory, and every failure is one of the documented
// error codes. The first input byte picks dialect, vendor, cumulative mode and chunking.
#include "protocol/response_stream.hpp"

#include <cstdint>
#include <cstdlib>

using namespace llmstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 1) return 0;
    const unsigned mode = bytes[0];
    const std::string_view body(reinterpret_cast<const char*>(bytes + 1), size - 1);
    const api_dialect dialect = (mode & 1) ? api_dialect::dashscope_native : api_dialect::openai_compatible;
    const vendor v = (mode & 2) ? vendor::dashscope : vendor::openai;
    const bool cumulative = (mode & 4) != 0;
    const std::size_t piece = 1 + (mode >> 3);

    protocol::response_stream stream(dialect, v, cumulative, {.max_line_size = 4096, .max_event_size = 8192});
    completion_accumulator acc;
    diagnostics diag;
    boost::system::error_code ec;
    for (std::size_t off = 0; off < body.size() && !ec; off += piece)
        ec = stream.feed(body.substr(off, piece), [&](const delta& d) { acc.add(d); }, diag);
    if (!ec) ec = stream.finish(diag);

    // Output never exceeds what came in (cumulative mode only ever hands out new text).
    const completion& c = acc.result();
    if (c.content.size() > body.size() * 3 || c.reasoning_content.size() > body.size() * 3) std::abort();
    if (ec && ec.category() != library_category() && ec.category() != api_category()) std::abort();
    if (ec && ec.category() == api_category() && diag.hint.empty()) std::abort();
    if (diag.provider_message.size() > 1030 || diag.provider_code.size() > 1030) std::abort();
    return 0;
}
