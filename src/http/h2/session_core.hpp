// One HTTP/2 connection's protocol, client side, without I/O: nghttp2's session and our streams.
// Bytes from the server go in through receive(), bytes for it come out of take_output(); the I/O
// driver (session.hpp) moves them. What we add to nghttp2: per-stream flow control held back
// while a reader is behind, RST_STREAM on cancel, GOAWAY and REFUSED_STREAM as "unprocessed",
// a header-list limit and a control-frame flood limit. A fuzz target drives it directly.
#pragma once

#include "http/exchange.hpp"

#include <llmstream/config.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct nghttp2_session;

namespace llmstream::http::h2 {

/// How a stream ended, as the session saw it.
struct stream_end {
    boost::system::error_code ec{};  ///< empty: the response arrived whole
    bool unprocessed = false;        ///< refused, above GOAWAY's last stream id, or never sent: safe to send again
    std::uint32_t reset_code = 0;    ///< the server's RST_STREAM error code, when it reset the stream
};

/// What a session tells one of its streams. Called from inside receive() (or fail()).
class stream_handler {
public:
    virtual ~stream_handler() = default;
    /// A response header field of the head being received.
    virtual void on_header(std::string_view name, std::string_view value) = 0;
    /// The final head ended (interim 1xx heads are skipped); `status` from its :status. An error
    /// resets the stream.
    virtual boost::system::error_code on_head_end(int status) = 0;
    /// Response body bytes. An error resets the stream.
    virtual boost::system::error_code on_data(std::string_view bytes) = 0;
    /// False while the reader is behind: this stream's window is not given back until resume.
    virtual bool has_room() const noexcept = 0;
    /// The stream is over; the session forgets the handler after this call.
    virtual void on_end(const stream_end& end) = 0;
};

/// The name of an HTTP/2 error code ("CANCEL", "ENHANCE_YOUR_CALM"), or "unknown (N)"-like text.
std::string error_code_name(std::uint32_t code);

class session_core {
public:
    /// `tls`: the connection is https (the :scheme).
    session_core(const http2_options& options, bool tls);
    ~session_core();
    session_core(const session_core&) = delete;
    session_core& operator=(const session_core&) = delete;

    /// Queues the connection preface, SETTINGS and the connection window.
    void start();

    /// Opens a stream for `request` (headers and body are copied). Returns its id, or 0 with
    /// `ec` set when the session takes no new streams.
    std::int32_t open_stream(stream_handler& handler, const outgoing_request& request, boost::system::error_code& ec);
    /// Resets the stream (RST_STREAM CANCEL) and forgets its handler at once: on_end is not called.
    void cancel_stream(std::int32_t id);
    /// The stream's reader caught up: gives back the window held for it.
    void resume_stream(std::int32_t id);
    /// Queues a PING; pings_acked() counts the acknowledgements (answered in order).
    bool submit_ping();
    std::uint64_t pings_acked() const noexcept { return pings_acked_; }
    /// Queues GOAWAY: no new streams; finished() once it is sent and nothing is left.
    void terminate();

    /// Bytes from the server, at `now`. An error means the connection is over: call fail() with it.
    boost::system::error_code receive(const std::uint8_t* data, std::size_t size,
                                      std::chrono::steady_clock::time_point now);
    /// Appends what is queued for the server to `out`, until `out` holds `limit` bytes.
    boost::system::error_code take_output(std::string& out, std::size_t limit);
    /// Nothing more to read or write (after GOAWAY either way): the connection can close.
    bool finished() const noexcept;
    /// The connection is over: every stream ends, with its own error or `ec`.
    void fail(boost::system::error_code ec);

    /// Streams this connection takes at once: the server's SETTINGS_MAX_CONCURRENT_STREAMS and
    /// our own cap, whichever is lower; 1 until the server's SETTINGS arrive.
    std::size_t capacity() const noexcept;
    bool settings_received() const noexcept { return settings_received_; }
    /// Streams in use (a cancelled one stops counting at once, before its RST_STREAM is sent).
    std::size_t active_streams() const noexcept { return active_; }
    /// Takes new streams: open, no GOAWAY either way, no error.
    bool usable() const noexcept { return !closed_ && !goaway_; }
    bool closed() const noexcept { return closed_; }
    boost::system::error_code error() const noexcept { return error_; }
    /// Streams opened on this connection so far.
    std::uint64_t streams_opened() const noexcept { return streams_opened_; }
    /// How many streams the server took before its GOAWAY refused streams already sent, as
    /// nginx's keepalive_requests does: 0 when that has not happened.
    std::uint64_t streams_served_before_goaway() const noexcept {
        return refused_after_goaway_ ? (static_cast<std::uint64_t>(goaway_last_stream_id_) + 1) / 2 : 0;
    }
    /// When the last stream ended (or the session started).
    std::chrono::steady_clock::time_point idle_since() const noexcept { return idle_since_; }
    /// When bytes last arrived from the server.
    std::chrono::steady_clock::time_point last_heard() const noexcept { return last_heard_; }

    /// Called when a stream slot frees up, the server's limits change, or the connection ends.
    std::function<void()> on_change;
    /// Called when a PING is acknowledged.
    std::function<void()> on_ping_ack;

    // nghttp2's callbacks (C functions) reach the session through these.
    struct callbacks;

private:
    struct stream_state {
        stream_handler* handler = nullptr;  // null: cancelled, frames still arriving are dropped
        std::string body;                   // the request body, sent by the data provider (then freed)
        std::size_t body_sent = 0;
        std::size_t header_bytes = 0;
        int status = 0;                     // :status of the head being received
        std::size_t held = 0;               // received bytes whose window is held back
        bool headers_sent = false;
        bool after_idle = false;            // opened on a connection woken from idle, before it answered anything
        bool end_stream = false;            // the response's END_STREAM arrived
        bool received_any = false;          // a frame of the response arrived
        bool head_done = false;             // the final head arrived
        std::uint32_t reset_by_server = 0;  // RST_STREAM code received, 0 none
        boost::system::error_code error{};  // set by our side (limits, handler errors)
    };

    void stream_closed(std::int32_t id, std::uint32_t error_code);
    /// Calls on_change; what it throws is dropped (see the definition).
    void changed() noexcept;
    bool count_control_frame(bool about_a_stream);
    /// For nghttp2's callbacks, per frame: the stream's state through the pointer nghttp2 keeps
    /// per stream (given with the request, cleared before the state is freed), without a search.
    /// Null for streams not ours or closed. nghttp2 creates a stream when its HEADERS go out, so
    /// calls from our side (cancel, resume), which can come before that, use find_stream.
    stream_state* state_of(std::int32_t id);
    stream_state* find_stream(std::int32_t id);

    http2_options options_;
    bool tls_;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, std::unique_ptr<stream_state>> streams_;  // owns the states
    std::size_t active_ = 0;
    std::uint64_t streams_opened_ = 0;
    std::uint64_t frames_received_ = 0;
    std::uint64_t idle_wake_frames_ = ~std::uint64_t{0};  // frames_received_ when an idle connection was used again
    std::chrono::steady_clock::time_point now_{};
    std::chrono::steady_clock::time_point idle_since_;
    std::chrono::steady_clock::time_point last_heard_;
    std::chrono::steady_clock::time_point flood_window_start_{};
    std::size_t flood_count_ = 0;
    std::size_t stream_flood_count_ = 0;     // frames about streams in this window
    std::uint64_t flood_streams_at_ = 0;     // streams_opened_ when the window started
    std::uint64_t flood_streams_before_ = 0;  // and when the one before it started
    static constexpr std::size_t per_stream_control_frames = 4;
    std::uint64_t pings_acked_ = 0;
    boost::system::error_code error_{};  // why the connection failed
    std::int32_t goaway_last_stream_id_ = 0;
    std::uint32_t goaway_error_ = 0;
    bool closed_ = false;
    bool goaway_ = false;
    bool refused_after_goaway_ = false;
    bool settings_received_ = false;
};

/// What every stream on a connection hears when its socket fails: the server closing or resetting
/// the connection is errc::connection_closed, whichever side noticed first (the reader's end of
/// file, or the writer's broken pipe while it was sending); other errors stay as they are.
boost::system::error_code connection_lost(boost::system::error_code ec);

}  // namespace llmstream::http::h2
