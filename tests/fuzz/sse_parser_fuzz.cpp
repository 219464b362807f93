// Fuzzes llmstream::sse::parser. Checks, for any input:
//  - the result (events, comments, errors, retry, last id) does not depend on chunking;
//  - without limits being hit it equals the naive reference transcription of WHATWG 9.2.6;
//  - with small limits, no dispatched event exceeds them, and a limit error is the only outcome
//    that differs from the reference.
#include "support/sse_collect.hpp"

#include <cstdint>
#include <cstdlib>

using namespace llmstream::testing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 2) return 0;
    const unsigned seed = bytes[0];
    const unsigned limit_choice = bytes[1];
    const std::string_view input(reinterpret_cast<const char*>(bytes + 2), size - 2);

    std::vector<std::size_t> cuts;
    std::size_t step = 1 + seed % 7;
    for (std::size_t i = step; i < input.size(); i += step, step = 1 + (step * 5 + seed) % 11) cuts.push_back(i);

    const parse_record whole = parse_whole(input);
    if (!(parse_pieces(input, cuts) == whole)) std::abort();
    if (whole.error) std::abort();  // default limits are far above any fuzz input
    const reference_result ref = reference_parse(std::string(input));
    if (whole.events != ref.events || whole.retry_ms != ref.retry_ms || whole.last_event_id != ref.last_event_id)
        std::abort();

    const llmstream::sse::limits small{.max_line_size = 1 + limit_choice % 32, .max_event_size = 1 + limit_choice / 8};
    const parse_record limited = parse_whole(input, small);
    if (!(parse_pieces(input, cuts, small) == limited)) std::abort();
    if (limited.error && limited.error != llmstream::errc::line_too_long &&
        limited.error != llmstream::errc::event_too_large)
        std::abort();
    // Up to the error, the limited parse saw exactly what the unlimited one saw.
    if (limited.events.size() > whole.events.size()) std::abort();
    for (std::size_t i = 0; i < limited.events.size(); ++i) {
        if (limited.events[i] != whole.events[i]) std::abort();
        if (limited.events[i].data.size() > small.max_event_size) std::abort();
    }
    if (!limited.error && !(limited.events == whole.events)) std::abort();
    return 0;
}
