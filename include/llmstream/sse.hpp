// Server-Sent Events: a sans-IO parser for `text/event-stream` bodies.
//
// Implements the "event stream interpretation" of the WHATWG HTML standard (section 9.2.6)
// exactly, for any chunking of the input: feed bytes as they arrive, receive events through a
// callback. The parser never performs I/O and never allocates per event in the steady state.
#pragma once

#include <llmstream/error.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace llmstream::sse {

/// One dispatched event. The views are valid only during the callback that receives them.
struct event {
    std::string_view type;  ///< the `event:` field, or "message" when none was given
    std::string_view data;  ///< `data:` lines joined with LF (no trailing LF)
    std::string_view id;    ///< the last event ID buffer at dispatch time (persists across events)
};

/// Bounds on what one stream may make the parser hold. Zero is not allowed for either field.
struct limits {
    /// Longest accepted line, excluding its terminator. Longer lines fail with `errc::line_too_long`.
    std::size_t max_line_size = 4 * 1024 * 1024;
    /// Largest accepted data buffer of one event (data lines joined with LF).
    /// Larger events fail with `errc::event_too_large`.
    std::size_t max_event_size = 8 * 1024 * 1024;
};

namespace detail {
class parser_core;
}

/// The parser. Its state lives in the library (one pointer away, once per feed, not per event):
/// tuning it is not an ABI change. Movable, not copyable.
class parser {
public:
    explicit parser(limits lim = {});
    ~parser();
    parser(parser&&) noexcept;
    parser& operator=(parser&&) noexcept;
    parser(const parser&) = delete;
    parser& operator=(const parser&) = delete;

    /// Consumes `chunk` and calls `on_event(const event&)` for each event it completes.
    /// Comment lines are ignored. Returns the error that stopped parsing, if any; after an error
    /// every further call returns the same error until `reset()`. An exception from a callback
    /// leaves feed at once, the rest of the chunk unparsed; last_event_id() stays valid (to
    /// resume the stream from), and the parser should be reset() before it is fed again.
    /// A callback may call reset(), but not feed() on the same parser.
    template <class OnEvent>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event) {
        auto events = [&](const event& e) { on_event(e); };
        return run(chunk, sink_of<const event&>(events), &events, nullptr, nullptr);
    }

    /// As above, and also calls `on_comment(std::string_view)` for each comment line, in stream
    /// order relative to events, with the text after the leading ':' exactly as sent (for example
    /// "HTTP_STATUS/429" for DashScope's `:HTTP_STATUS/429`, " keep-alive" for `: keep-alive`).
    template <class OnEvent, class OnComment>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event, OnComment&& on_comment) {
        auto events = [&](const event& e) { on_event(e); };
        auto comments = [&](std::string_view text) { on_comment(text); };
        return run(chunk, sink_of<const event&>(events), &events, sink_of<std::string_view>(comments), &comments);
    }

    /// The reconnection time from the last valid `retry:` field (all ASCII digits), if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept;

    /// The stream's last event ID: the ID buffer as of the most recent blank line. The view is
    /// valid until the next call to feed() or reset() (in a callback: until it returns).
    std::string_view last_event_id() const noexcept;

    /// True when a line or an event has been started but not finished. At end of stream such an
    /// event is discarded (as the standard requires); callers may report it as truncation.
    /// False after an error: a failed parser holds nothing.
    bool has_partial_event() const noexcept;

    /// Returns the parser to its freshly constructed state (same limits): bytes fed after it are
    /// the start of a new stream (a leading byte order mark is skipped again, and an LF is not
    /// joined to a CR fed before the reset). May be called from inside a callback.
    void reset();

    const limits& get_limits() const noexcept;

private:
    // The callbacks are called from inside the parse loop (compiled once, in the library)
    // through plain function pointers: no return to the caller per event or comment. Each is
    // a lambda of feed's (an object, whatever the caller passed: a function, a const functor).
    template <class Arg, class F>
    static auto sink_of(F&) noexcept -> void (*)(void*, Arg) {
        return [](void* context, Arg arg) { (*static_cast<F*>(context))(arg); };
    }
    boost::system::error_code run(std::string_view chunk, void (*event)(void*, const event&), void* event_context,
                                  void (*comment)(void*, std::string_view), void* comment_context);

    std::unique_ptr<detail::parser_core> core_;  // null only when moved from
};

}  // namespace llmstream::sse
