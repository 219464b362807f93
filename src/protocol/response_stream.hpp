// A streaming response body, bytes in, deltas out: sse::parser feeding a stream_decoder.
// This is what the transport drives and what `llmstream-bench parse` measures.
#pragma once

#include "stream_decoder.hpp"

#include "sse/parser_core.hpp"

namespace llmstream::protocol {

class response_stream {
public:
    response_stream(api_dialect dialect, vendor v, bool cumulative_output = false, sse::limits lim = {})
        : parser_(lim), decoder_(dialect, v, cumulative_output) {}

    /// Feeds body bytes; calls `on_delta(const delta&)` for each non-empty delta (valid during
    /// the call). The first error ends the stream: later calls return it again.
    template <class OnDelta>
    boost::system::error_code feed(std::string_view bytes, OnDelta&& on_delta, diagnostics& diag) {
        return feed_into(bytes, [this]() -> delta& { return delta_; }, on_delta, diag);
    }

    /// As feed, but each event is decoded into `slot()` (a `delta&` the caller owns, cleared
    /// first), and `on_delta` is called with that same delta when it is not empty: a consumer's
    /// queue takes deltas without a copy.
    template <class Slot, class OnDelta>
    boost::system::error_code feed_into(std::string_view bytes, Slot&& slot, OnDelta&& on_delta, diagnostics& diag) {
        if (failed_) return failed_;
        boost::system::error_code ec;
        const auto on_event = [&](const sse::event& e) {
            if (ec) return;  // an error earlier in this chunk ended the stream
            ++events_;
            delta& out = slot();
            ec = decoder_.on_event(e, out, diag);
            if (!ec && !out.empty()) on_delta(static_cast<const delta&>(out));
        };
        const auto on_comment = [&](std::string_view comment) { decoder_.on_comment(comment); };
        // Whole-event replay: an event that repeats the last text delta but for its text is taken
        // from its bytes, before the parser reads its lines (protocol/whole_event_replay.hpp).
        const auto whole_event = [&](std::string_view rest) -> std::size_t {
            if (ec) return 0;
            delta& out = slot();
            const std::size_t length = decoder_.replay_whole_event(rest, out);
            if (length == 0) return 0;
            ++events_;
            if (!out.empty()) on_delta(static_cast<const delta&>(out));  // empty: a "" text
            return length;
        };
        const auto sse_ec = decoder_.replays_whole_events() ? parser_.feed(bytes, on_event, on_comment, whole_event)
                                                            : parser_.feed(bytes, on_event, on_comment);
        if (!ec && sse_ec) {
            // What the decoder gathered goes; the response that broke the limit is still the one the
            // status and request id describe (the request id is what the provider's support asks for).
            const int status = diag.http_status;
            std::string request_id = std::move(diag.request_id);
            diag.clear_last_attempt();
            diag.http_status = status;
            diag.request_id = std::move(request_id);
            diag.hint = "the event stream exceeded a size limit (sse::limits); a server sending this is misbehaving";
            ec = sse_ec;
        }
        failed_ = ec;
        return ec;
    }

    /// End of the body: `errc::truncated_stream` unless the response was complete.
    boost::system::error_code finish(diagnostics& diag) {
        if (failed_) return failed_;
        return decoder_.on_end_of_stream(diag);
    }

    bool done() const noexcept { return decoder_.done(); }
    std::size_t events() const noexcept { return events_; }
    /// See stream_decoder::set_prefix_replay.
    void set_prefix_replay(bool on) noexcept { decoder_.set_prefix_replay(on); }
    std::size_t replayed_events() const noexcept { return decoder_.replayed_events(); }
    std::size_t replayed_suffixes() const noexcept { return decoder_.replayed_suffixes(); }
    std::size_t replayed_whole_events() const noexcept { return decoder_.replayed_whole_events(); }

    void reset() {
        parser_.reset();
        decoder_.reset();
        failed_ = {};
        events_ = 0;
    }

private:
    sse::detail::parser_core parser_;  // directly: no indirection on the client's path
    stream_decoder decoder_;
    delta delta_;
    boost::system::error_code failed_;
    std::size_t events_ = 0;
};

}  // namespace llmstream::protocol
