// One HTTP/2 connection, client side: nghttp2's sans-IO session driven by one reader and one
// writer coroutine on the client's executor. Many streams share it; each is an h2::exchange (a
// stream_handler here). Frames, HPACK and flow control are nghttp2's; what we add: per-stream
// flow control held back while a reader is behind, RST_STREAM on cancel, GOAWAY and REFUSED_STREAM
// as "unprocessed", header-list and control-frame-flood limits, PING before reuse.
#pragma once

#include "http/connection_pool.hpp"
#include "http/exchange.hpp"

#include <llmstream/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

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
    bool unprocessed = false;        ///< refused, or above GOAWAY's last stream id: safe to send again
};

/// What a session tells one of its streams. Called from the session's reader on the executor.
class stream_handler {
public:
    virtual ~stream_handler() = default;
    /// A response header field (interim 1xx heads included: on_head_end says which head ended).
    virtual void on_header(std::string_view name, std::string_view value) = 0;
    /// A head ended; `status` from its :status. An error resets the stream.
    virtual boost::system::error_code on_head_end(int status) = 0;
    /// Response body bytes. An error resets the stream.
    virtual boost::system::error_code on_data(std::string_view bytes) = 0;
    /// False while the reader is behind: this stream's window is not given back until resume.
    virtual bool has_room() const noexcept = 0;
    /// The stream is over; the session forgets the handler after this call.
    virtual void on_end(const stream_end& end) = 0;
};

class session : public std::enable_shared_from_this<session> {
public:
    /// `socket`: connected (and TLS-handshaken, h2 chosen by ALPN) by the caller.
    session(std::unique_ptr<connection> socket, const http2_options& options);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Sends the connection preface and SETTINGS, then runs the reader and writer until closed.
    void start();

    /// Opens a stream for `request` (headers and body are copied). Returns its id, or 0 with
    /// `ec` set when the session takes no new streams.
    std::int32_t open_stream(stream_handler& handler, const outgoing_request& request, boost::system::error_code& ec);
    /// Resets the stream (RST_STREAM CANCEL) and forgets its handler at once: on_end is not called.
    void cancel_stream(std::int32_t id);
    /// The stream's reader caught up: gives back the window held for it.
    void resume_stream(std::int32_t id);

    /// Streams this connection takes at once: the server's SETTINGS_MAX_CONCURRENT_STREAMS and
    /// our own cap, whichever is lower.
    std::size_t capacity() const noexcept;
    /// Streams in use (a cancelled one stops counting at once, before its RST_STREAM is sent).
    std::size_t active_streams() const noexcept { return active_; }
    /// Streams promised by the pool to requests that have not opened them yet.
    std::size_t reserved() const noexcept { return reserved_; }
    void reserve() noexcept { ++reserved_; }
    void unreserve() {
        if (reserved_ > 0) --reserved_;
        maybe_stop_reading();
    }
    /// Takes new streams: open, no GOAWAY either way, no error.
    bool usable() const noexcept { return !closed_ && !goaway_; }
    bool closed() const noexcept { return closed_; }
    /// Ends the connection (GOAWAY, then close); every stream ends with operation_aborted.
    void shutdown();
    /// When the last stream ended (or the session started), for the pool's idle timeout.
    std::chrono::steady_clock::time_point idle_since() const noexcept { return idle_since_; }
    /// When a frame last arrived from the server.
    std::chrono::steady_clock::time_point last_heard() const noexcept { return last_heard_; }
    /// Sends a PING and waits for its ACK until `deadline`: false when none came (the connection is
    /// then closed).
    boost::asio::awaitable<bool> ping(std::chrono::steady_clock::time_point deadline);

    boost::asio::any_io_executor executor() const { return executor_; }

    /// Called when a stream slot frees up or the connection closes (the pool's hook).
    std::function<void()> on_change;

    // nghttp2's callbacks (C functions) reach the session through these.
    struct callbacks;

private:
    struct stream_state {
        stream_handler* handler = nullptr;  // null: cancelled, frames still arriving are dropped
        std::string body;                   // the request body, sent by the data provider
        std::size_t body_sent = 0;
        std::size_t header_bytes = 0;
        int status = 0;                     // :status of the head being received
        std::size_t held = 0;               // received bytes whose window is held back
        bool headers_sent = false;
        bool reused = false;                // opened on a connection that had carried streams before
        bool received_any = false;          // a frame of the response arrived
        bool head_done = false;             // the final head arrived
        std::uint32_t reset_by_server = 0;  // RST_STREAM code received, 0 none
        boost::system::error_code error{};  // set by our side (limits, handler errors)
    };

    boost::asio::awaitable<void> read_loop(std::shared_ptr<session> self);
    boost::asio::awaitable<void> write_loop(std::shared_ptr<session> self);
    void wake_writer();
    void drive();
    bool busy() const noexcept;
    void maybe_stop_reading();
    void fail(boost::system::error_code ec);  // the connection is over: every stream ends with ec
    void close_socket() noexcept;
    void stream_closed(std::int32_t id, std::uint32_t error_code);
    bool count_control_frame();
    stream_state* state_of(std::int32_t id);

    std::unique_ptr<connection> socket_;
    boost::asio::any_io_executor executor_;
    http2_options options_;
    nghttp2_session* session_ = nullptr;
    std::map<std::int32_t, std::unique_ptr<stream_state>> streams_;
    std::size_t active_ = 0;
    std::size_t reserved_ = 0;
    std::uint64_t streams_opened_ = 0;
    boost::asio::steady_timer write_signal_;
    boost::asio::steady_timer ping_signal_;
    std::chrono::steady_clock::time_point idle_since_;
    std::chrono::steady_clock::time_point last_heard_;
    std::chrono::steady_clock::time_point flood_window_start_{};
    std::size_t flood_count_ = 0;
    std::uint64_t pings_acked_ = 0;
    boost::system::error_code error_{};  // why the connection failed
    bool closed_ = false;
    bool goaway_ = false;
    bool writing_ = false;
    bool reader_running_ = false;
    bool writer_running_ = false;
    bool in_recv_ = false;
    int pinging_ = 0;
};

}  // namespace llmstream::http::h2
