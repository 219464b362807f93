// One HTTP/2 connection, client side: the I/O driver of a session_core (one reader and one writer
// coroutine on the client's executor, writes coalesced into one buffer per wake-up). Many
// streams share it; each is an h2::exchange. An idle session does no I/O at all, like an idle
// HTTP/1.1 connection, so that io_context::run() can return; a stream or a PING starts it again.
#pragma once

#include "http/connection_pool.hpp"
#include "http/context_closing.hpp"
#include "http/h2/session_core.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace llmstream::http::h2 {

class session : public std::enable_shared_from_this<session> {
public:
    /// `socket`: connected (and TLS-handshaken, h2 chosen by ALPN) by the caller.
    session(std::unique_ptr<connection> socket, const http2_options& options);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    /// Sends the connection preface and SETTINGS.
    void start();

    // The streams' side (see session_core).
    std::int32_t open_stream(stream_handler& handler, const outgoing_request& request, boost::system::error_code& ec);
    void cancel_stream(std::int32_t id) noexcept;
    void resume_stream(std::int32_t id);

    // The pool's side.
    std::size_t capacity() const noexcept { return core_.capacity(); }
    /// The server's SETTINGS arrived (until then capacity() is 1).
    bool settings_received() const noexcept { return core_.settings_received(); }
    std::size_t active_streams() const noexcept { return core_.active_streams(); }
    /// Streams promised by the pool to requests that have not opened them yet.
    std::size_t reserved() const noexcept { return reserved_; }
    void reserve() noexcept { ++reserved_; }
    void unreserve();
    bool usable() const noexcept { return core_.usable(); }
    /// Streams opened, and those promised to requests: what the server will have seen.
    std::uint64_t streams_committed() const noexcept { return core_.streams_opened() + reserved_; }
    std::uint64_t streams_served_before_goaway() const noexcept { return core_.streams_served_before_goaway(); }
    bool closed() const noexcept { return core_.closed(); }
    std::chrono::steady_clock::time_point idle_since() const noexcept { return core_.idle_since(); }
    std::chrono::steady_clock::time_point last_heard() const noexcept { return core_.last_heard(); }
    /// Ends the connection: GOAWAY, then close; streams still open end with operation_aborted.
    void shutdown();
    /// Sends a PING (or joins the one on its way) and waits for its ACK. False when none came by
    /// `liveness` (the connection is then closed, for every stream) or by `give_up` (this caller's
    /// own deadline: the connection stays).
    boost::asio::awaitable<bool> ping(std::chrono::steady_clock::time_point liveness,
                                      std::chrono::steady_clock::time_point give_up);

    boost::asio::any_io_executor executor() const { return executor_; }

    /// Called when a stream slot frees up or the connection closes (the pool's hook).
    std::function<void()> on_change;

private:
    struct loop_exit;
    boost::asio::awaitable<void> read_loop(std::shared_ptr<session> self);
    boost::asio::awaitable<void> write_loop(std::shared_ptr<session> self);
    bool busy() const noexcept;
    void drive();
    void wake_writer();
    void maybe_stop_reading();
    void fail(boost::system::error_code ec);

    std::unique_ptr<connection> socket_;
    boost::asio::any_io_executor executor_;
    session_core core_;
    boost::asio::steady_timer write_signal_;
    const context_closing* context_closing_;  // see loop_exit
    boost::asio::cancellation_signal stop_read_;  // stops the pending read alone (writes go on)
    std::vector<boost::asio::steady_timer*> ping_waiters_;  // woken by the PING's ACK
    std::uint64_t ping_awaited_ = 0;  // the ACK count that answers the PING on its way
    std::chrono::steady_clock::time_point ping_liveness_{};
    std::size_t reserved_ = 0;
    int pinging_ = 0;
    bool writing_ = false;
    bool reader_running_ = false;
    bool writer_running_ = false;
    bool in_recv_ = false;
};

}  // namespace llmstream::http::h2
