// The C++ anchor of `llmstream-bench parse --decoder simdjson`: what a straightforward client on
// the fastest general-purpose JSON parser does with a streamed response. Each event's data is
// copied into a padded buffer and read with simdjson On-Demand into the same `delta` fields the
// library's decoder fills (text, thinking, role, tool call fragments, finish reason, usage, id and
// model), one function per dialect. A yardstick, not production code: no error events, no
// checks of the protocol beyond what the fields need, identity fields in every delta.
#pragma once

#include <llmstream/dialect.hpp>
#include <llmstream/events.hpp>
#include <llmstream/sse.hpp>

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::bench {

class simdjson_anchor {
public:
    explicit simdjson_anchor(api_dialect dialect) : dialect_(dialect) {}

    /// Decodes one event into `out` (cleared first; left empty for [DONE], keep-alives and
    /// events that carry nothing). False when the data is not JSON of the dialect's shape.
    bool decode(const sse::event& e, delta& out);

    /// The start of a new stream.
    void reset();

    /// Which simdjson kernels run: stage 1 (chosen at run time) and On-Demand's (at compile time,
    /// from the target flags of simdjson_anchor.cpp), e.g. "stage1=haswell,ondemand=fallback".
    static std::string kernels();

private:
    // Anthropic's token counts; null or absent: not said (message_delta's overlay message_start's).
    struct anthropic_counts {
        std::optional<std::int64_t> input, output, cache_creation, cache_read;
    };

    bool openai_chunk(simdjson::ondemand::document& doc, delta& out);
    bool dashscope_frame(simdjson::ondemand::document& doc, delta& out);
    bool anthropic_event(std::string_view event_name, simdjson::ondemand::document& doc, delta& out);
    bool responses_event(std::string_view event_name, simdjson::ondemand::document& doc, delta& out);
    int start_tool(std::int64_t at);
    int tool_at(std::int64_t at) const;

    api_dialect dialect_;
    simdjson::ondemand::parser parser_;
    std::string padded_;  // the event's data, with at least SIMDJSON_PADDING bytes of capacity after it
    std::optional<usage> running_usage_;  // DashScope native: handed out with the frame that finishes
    anthropic_counts counts_;
    std::vector<int> tool_of_;  // Anthropic content block / Responses output item -> tool call ordinal, or -1
    int tools_ = 0;
};

}  // namespace llmstream::bench
