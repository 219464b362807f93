// The event-stream parser's state and parse loop (internal). The public `llmstream::sse::parser`
// (include/llmstream/sse.hpp) keeps one behind a pointer, so that its tuned private state is not
// part of the installed ABI; the library's own response path (protocol::response_stream) holds a
// parser_core directly. Semantics: see sse.hpp.
#pragma once

#include <llmstream/error.hpp>
#include <llmstream/sse.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmstream::sse::detail {

/// Where a line's bytes >= 0x80 lie: all within [first, last]; null when it has none.
struct high_bytes {
    const char* first = nullptr;
    const char* last = nullptr;
};
/// Line-end and non-ASCII masks of the 64 bytes at `at` in the chunk being fed (null: none).
struct block_cache {
    const char* at = nullptr;
    std::uint64_t eol = 0;
    std::uint64_t high = 0;
};
/// The event-stream parser itself; `sse::parser` (the public, ABI-stable face) holds one through a
/// pointer, and the library's own response path holds one directly (no indirection at all).
class parser_core {
public:
    explicit parser_core(limits lim = {});

    /// Consumes `chunk` and calls `on_event(const event&)` for each event it completes.
    /// Comment lines are ignored. Returns the error that stopped parsing, if any; after an error
    /// every further call returns the same error until `reset()`. An exception from a callback
    /// leaves feed at once, the rest of the chunk unparsed; last_event_id() stays valid (to
    /// resume the stream from), and the parser should be reset() before it is fed again.
    /// A callback may call reset(), but not feed() on the same parser.
    template <class OnEvent>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event) {
        auto events = [&](const event& e) { on_event(e); };
        return run(chunk, {sink_of<const event&>(events), &events, nullptr, nullptr});
    }

    /// As above, and also calls `on_comment(std::string_view)` for each comment line, in stream
    /// order relative to events, with the text after the leading ':' exactly as sent (for example
    /// "HTTP_STATUS/429" for DashScope's `:HTTP_STATUS/429`, " keep-alive" for `: keep-alive`).
    template <class OnEvent, class OnComment>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event, OnComment&& on_comment) {
        auto events = [&](const event& e) { on_event(e); };
        auto comments = [&](std::string_view text) { on_comment(text); };
        return run(chunk, {sink_of<const event&>(events), &events, sink_of<std::string_view>(comments), &comments});
    }

    /// As above, and at each event boundary (no field line since the last blank line) offers
    /// `shortcut(std::string_view rest)` the bytes from there to the end of the chunk, at most
    /// min(max_line_size, max_event_size) of them. It returns the length of one whole event at
    /// the start of `rest` (its lines and the blank line ending it, none of them `id:` or
    /// `retry:`) that it has handled exactly as on_event would have, or 0: parse as usual. The
    /// library's response path uses it for whole-event replay (protocol/whole_event_replay.hpp).
    template <class OnEvent, class OnComment, class Shortcut>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event, OnComment&& on_comment, Shortcut&& shortcut) {
        auto events = [&](const event& e) { on_event(e); };
        auto comments = [&](std::string_view text) { on_comment(text); };
        auto shortcuts = [&](std::string_view rest) -> std::size_t { return shortcut(rest); };
        sinks to{sink_of<const event&>(events), &events, sink_of<std::string_view>(comments), &comments};
        to.shortcut = [](void* context, std::string_view rest) -> std::size_t { return (*static_cast<decltype(shortcuts)*>(context))(rest); };
        to.shortcut_context = &shortcuts;
        return run(chunk, to);
    }

    /// The reconnection time from the last valid `retry:` field (all ASCII digits), if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

    /// The stream's last event ID: the ID buffer as of the most recent blank line. The view is
    /// valid until the next call to feed() or reset() (in a callback: until it returns).
    std::string_view last_event_id() const noexcept { return last_id_; }

    /// True when a line or an event has been started but not finished. At end of stream such an
    /// event is discarded (as the standard requires); callers may report it as truncation.
    /// False after an error: a failed parser holds nothing.
    bool has_partial_event() const noexcept;

    /// Returns the parser to its freshly constructed state (same limits): bytes fed after it are
    /// the start of a new stream (a leading byte order mark is skipped again, and an LF is not
    /// joined to a CR fed before the reset). May be called from inside a callback.
    void reset();

    const limits& get_limits() const noexcept { return limits_; }

    /// Where feed's callbacks go: plain function pointers with their contexts.
    struct sinks {
        void (*event)(void* context, const event& e) = nullptr;
        void* event_context = nullptr;
        void (*comment)(void* context, std::string_view text) = nullptr;  // null: comments are ignored
        void* comment_context = nullptr;
        std::size_t (*shortcut)(void* context, std::string_view rest) = nullptr;  // null: none
        void* shortcut_context = nullptr;
    };
    /// feed() with the callbacks already made sinks (what sse::parser forwards to).
    boost::system::error_code run(std::string_view chunk, const sinks& to) {
        sinks_ = to;
        boost::system::error_code ec;
        parse(chunk, ec);
        return ec;
    }

    // The callbacks are called from inside the parse loop (compiled once, in the library)
    // through plain function pointers: no return to the caller per event or comment. Each is
    // a lambda of feed's (an object, whatever the caller passed: a function, a const functor).
    template <class Arg, class F>
    static auto sink_of(F&) noexcept -> void (*)(void*, Arg) {
        return [](void* context, Arg arg) { (*static_cast<F*>(context))(arg); };
    }

private:
    enum class step { next_line, failed };  // failed: ec is set

    // Consumes the chunk, handing events and comments to sinks_ on the way.
    void parse(std::string_view chunk, boost::system::error_code& ec);
    void parse_chunk(std::string_view chunk, boost::system::error_code& ec);
    bool is_valid_utf8(std::string_view value) const noexcept;
    step process_line(std::string_view line, bool in_chunk, boost::system::error_code& ec);
    bool end_of_event();
    void other_field(std::string_view line, bool in_chunk, boost::system::error_code& ec);
    void set_id(std::string_view value, bool in_chunk);
    void set_type(std::string_view value, bool in_chunk);
    void append_data(std::string_view value, bool in_chunk, boost::system::error_code& ec);
    std::string_view checked_utf8(std::string_view value, bool& repaired);
    void clear_event();
    void keep_chunk_views();
    void fail(boost::system::error_code& ec, errc e);

    limits limits_;
    boost::system::error_code failed_;

    std::string line_;        // a line carried over from an earlier chunk
    std::string data_;        // data buffer when it cannot be a view of the input
    std::size_t data_offset_ = 0;  // where the data starts in data_ (after "data:" when taken from line_)
    std::string_view data_view_;  // data buffer as a view of the current chunk (zero-copy case)
    bool data_is_view_ = false;
    std::size_t data_lines_ = 0;
    // The event type and IDs are views of the chunk being fed while it lasts (DashScope sends
    // `id:` and `event:` in every frame: no copy per event); keep_chunk_views() copies what
    // still points into it when the chunk goes away. A value from a line carried over in line_,
    // or with invalid UTF-8 replaced, is copied at once.
    std::string_view type_;   // event type buffer (when type_set_)
    std::string type_bytes_;  // type_'s bytes when it is not a view of the chunk
    bool type_set_ = false;
    bool type_in_chunk_ = false;
    std::string_view last_id_;     // the last event ID, set from pending_id_ at a blank line
    std::string_view pending_id_;  // the standard's last event ID buffer, when id_pending_
    std::string id_bytes_[2];  // copies: the last ID's in id_bytes_[last_id_slot_], a pending one's in the other
    int last_id_slot_ = 0;
    bool last_id_in_chunk_ = false;
    bool pending_id_in_chunk_ = false;
    bool id_pending_ = false;
    std::string repaired_;    // scratch for a value with invalid UTF-8 replaced by U+FFFD
    std::optional<std::chrono::milliseconds> retry_;

    event event_;             // what the last dispatch handed out
    sinks sinks_;  // of the feed call in progress

    block_cache masks_;  // serves the short lines after the one it was made for

    bool bom_decided_ = false;
    bool skip_lf_ = false;        // the previous chunk ended with CR: a leading LF belongs to it
    bool dispatching_ = false;    // event_ is being handed out
    bool release_line_ = false;
    bool field_seen_ = false;     // a field line arrived since the last blank line
    bool line_non_ascii_ = false; // line_ holds a byte >= 0x80
    high_bytes line_high_;        // of the line being processed: UTF-8 is validated only there
};

}  // namespace llmstream::sse::detail
