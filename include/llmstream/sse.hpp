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
#include <cstdint>
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

class parser {
public:
    explicit parser(limits lim = {});

    /// Consumes `chunk` and calls `on_event(const event&)` for each event it completes.
    /// Comment lines are ignored. Returns the error that stopped parsing, if any; after an error
    /// every further call returns the same error until `reset()`.
    template <class OnEvent>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event) {
        auto no_comments = [](std::string_view) {};
        return run(chunk, on_event, no_comments, false);
    }

    /// As above, and also calls `on_comment(std::string_view)` for each comment line, in stream
    /// order relative to events, with the text after the leading ':' exactly as sent (for example
    /// "HTTP_STATUS/429" for DashScope's `:HTTP_STATUS/429`, " keep-alive" for `: keep-alive`).
    template <class OnEvent, class OnComment>
    boost::system::error_code feed(std::string_view chunk, OnEvent&& on_event, OnComment&& on_comment) {
        return run(chunk, on_event, on_comment, true);
    }

    /// The reconnection time from the last valid `retry:` field (all ASCII digits), if any.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }

    /// The stream's last event ID: the ID buffer as of the most recent blank line.
    std::string_view last_event_id() const noexcept { return {ids_[last_id_].data(), id_sizes_[last_id_]}; }

    /// True when a line or an event has been started but not finished. At end of stream such an
    /// event is discarded (as the standard requires); callers may report it as truncation.
    /// False after an error: a failed parser holds nothing.
    bool has_partial_event() const noexcept;

    /// Returns the parser to its freshly constructed state (same limits): bytes fed after it are
    /// the start of a new stream (a leading byte order mark is skipped again, and an LF is not
    /// joined to a CR fed before the reset). May be called from inside a callback.
    void reset();

    const limits& get_limits() const noexcept { return limits_; }

private:
    enum class step { need_more, dispatch, comment };

    // Consumes input until it can report an event or a comment, or the input is exhausted.
    step advance(std::string_view& in, boost::system::error_code& ec, bool want_comments);
    // Where a line's bytes >= 0x80 lie: all within [first, last]; null when it has none.
    struct high_bytes {
        const char* first = nullptr;
        const char* last = nullptr;
    };
    // The length of the line starting at `p` (up to its CR or LF, or `end`), and its high bytes.
    std::size_t line_length(const char* p, const char* end, high_bytes& high) noexcept;
    std::size_t line_length_from_new_block(const char* p, const char* end, high_bytes& high) noexcept;
    static void note_high(high_bytes& high, const char* at, std::uint64_t mask) noexcept;
    bool is_valid_utf8(std::string_view value) const noexcept;
    step process_line(std::string_view line, bool in_chunk, bool want_comments,
                      boost::system::error_code& ec);
    step end_of_event();
    void other_field(std::string_view line, bool in_chunk, boost::system::error_code& ec);
    void set_id(std::string_view value);
    void set_type(std::string_view value);
    void append_data(std::string_view value, bool in_chunk, boost::system::error_code& ec);
    std::string_view checked_utf8(std::string_view value, bool& repaired);
    void clear_event();
    void fail(boost::system::error_code& ec, errc e);

    template <class OnEvent, class OnComment>
    boost::system::error_code run(std::string_view chunk, OnEvent& on_event, OnComment& on_comment,
                                  bool want_comments) {
        boost::system::error_code ec;
        mask_at_ = nullptr;  // the masks described the previous chunk
        for (;;) {
            switch (advance(chunk, ec, want_comments)) {
            case step::need_more:
                return ec;
            case step::dispatch:
                on_event(static_cast<const event&>(event_));
                break;
            case step::comment:
                on_comment(comment_);
                break;
            }
        }
    }

    limits limits_;
    boost::system::error_code failed_;

    std::string line_;        // a line carried over from an earlier chunk
    std::string data_;        // data buffer when it cannot be a view of the input
    std::size_t data_offset_ = 0;  // where the data starts in data_ (after "data:" when taken from line_)
    std::string_view data_view_;  // data buffer as a view of the current chunk (zero-copy case)
    bool data_is_view_ = false;
    std::size_t data_lines_ = 0;
    std::string type_;        // event type buffer (when type_set_; else empty, bytes kept for reuse)
    bool type_set_ = false;
    // Two ID texts: ids_[last_id_] is the last event ID; an `id:` line fills the other one and
    // the blank line makes it the last (no copy per event). The standard's last event ID buffer
    // is the other one while id_pending_, else the last. A text's bytes are the first
    // id_sizes_[k] of ids_[k] (its size only grows, so that a new ID is one memcpy).
    std::string ids_[2];
    std::size_t id_sizes_[2] = {0, 0};
    int last_id_ = 0;
    bool id_pending_ = false;
    std::string repaired_;    // scratch for a value with invalid UTF-8 replaced by U+FFFD
    std::optional<std::chrono::milliseconds> retry_;

    event event_;             // what the last dispatch handed out
    std::string_view comment_;

    // Line-end and non-ASCII masks of the 64 bytes at mask_at_ in the chunk being fed (null: none).
    const char* mask_at_ = nullptr;
    std::uint64_t mask_eol_ = 0;
    std::uint64_t mask_high_ = 0;

    bool bom_decided_ = false;
    bool skip_lf_ = false;        // the previous chunk ended with CR: a leading LF belongs to it
    bool reset_after_dispatch_ = false;
    bool release_line_ = false;
    bool field_seen_ = false;     // a field line arrived since the last blank line
    bool line_non_ascii_ = false; // line_ holds a byte >= 0x80
    high_bytes line_high_;        // of the line being processed: UTF-8 is validated only there
};

}  // namespace llmstream::sse
