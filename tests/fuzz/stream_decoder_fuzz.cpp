// Fuzzes the streaming response path of every dialect (SSE framing + decoder + accumulator):
// no crash, no sanitizer finding, bounded memory, and every failure is one of the documented
// error codes; and prefix replay changes nothing: a second decoder with replay off must hand out
// the same deltas and end the same way. The first input byte picks the dialect (bits 0-1), the
// vendor (bit 2), cumulative mode (bit 3, DashScope native) and the chunk size (bits 4-7, `pieces`).
#include "protocol/response_stream.hpp"

#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace llmstream;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 1) return 0;
    const unsigned mode = bytes[0];
    const std::string_view body(reinterpret_cast<const char*>(bytes + 1), size - 1);
    static constexpr api_dialect dialects[] = {api_dialect::openai_compatible, api_dialect::dashscope_native,
                                               api_dialect::anthropic_messages, api_dialect::openai_responses};
    const api_dialect dialect = dialects[mode & 3];
    const vendor v = (mode & 4) ? vendor::dashscope : dialect == api_dialect::anthropic_messages ? vendor::anthropic : vendor::openai;
    const bool cumulative = (mode & 8) != 0 && dialect == api_dialect::dashscope_native;
    // Chunks of 1 to 12 bytes split every line; larger ones let whole events through in one piece
    // (whole-event replay takes only those).
    static constexpr std::size_t pieces[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 64, 256, 1024, 1 << 20};
    const std::size_t piece = pieces[mode >> 4];

    protocol::response_stream stream(dialect, v, cumulative, {.max_line_size = 4096, .max_event_size = 8192});
    protocol::response_stream full(dialect, v, cumulative, {.max_line_size = 4096, .max_event_size = 8192});
    full.set_prefix_replay(false);
    completion_accumulator acc;
    diagnostics diag, full_diag;
    boost::system::error_code ec, full_ec;
    std::vector<delta> deltas, full_deltas;
    for (std::size_t off = 0; off < body.size() && !ec; off += piece)
        ec = stream.feed(body.substr(off, piece), [&](const delta& d) { acc.add(d); deltas.push_back(d); }, diag);
    if (!ec) ec = stream.finish(diag);
    for (std::size_t off = 0; off < body.size() && !full_ec; off += piece)
        full_ec = full.feed(body.substr(off, piece), [&](const delta& d) { full_deltas.push_back(d); }, full_diag);
    if (!full_ec) full_ec = full.finish(full_diag);

    if (ec != full_ec || diag.hint != full_diag.hint ||
        diag.provider_code != full_diag.provider_code || diag.provider_message != full_diag.provider_message)
        std::abort();
    if (deltas != full_deltas) std::abort();
    if (stream.events() != full.events() || stream.done() != full.done() || diag.request_id != full_diag.request_id) std::abort();

    // Output never exceeds what came in (cumulative mode only ever hands out new text).
    const completion& c = acc.result();
    if (c.content.size() > body.size() * 3 || c.reasoning_content.size() > body.size() * 3) std::abort();
    if (ec && ec.category() != library_category() && ec.category() != api_category()) std::abort();
    if (ec && ec.category() == api_category() && diag.hint.empty()) std::abort();
    if (diag.provider_message.size() > 1030 || diag.provider_code.size() > 1030) std::abort();
    return 0;
}
