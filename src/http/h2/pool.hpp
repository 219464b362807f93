// HTTP/2 connections to one origin: a request takes a stream on a connection with room (under
// the server's SETTINGS_MAX_CONCURRENT_STREAMS and our cap); a new connection opens only when all
// are full, up to max_connections; requests that find no room wait in arrival order.
#pragma once

#include "http/connection_pool.hpp"
#include "http/h2/session.hpp"
#include "http/waiting_line.hpp"

#include <llmstream/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace llmstream::http::h2 {

/// A request's place: a stream reserved on a session, or the turn to open a connection (its slot
/// reserved), or word that the origin speaks only HTTP/1.1.
struct lease {
    std::shared_ptr<session> s;
    bool connect = false;
    bool use_http1 = false;
};

/// A request waiting for a lease; woken by cancelling its timer with `granted` set.
struct waiter {
    explicit waiter(boost::asio::any_io_executor ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    bool granted = false;
    bool cancelled = false;
    lease handed;
};

class pool {
public:
    pool(boost::asio::any_io_executor ex, pool_settings settings, boost::asio::ssl::context* tls,
         const http2_options& options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    /// A lease, at once or after waiting in line (bounded queue; until wait_timeout or
    /// `deadline`). Errors: errc::pool_queue_full, pool_wait_timeout, deadline_exceeded, operation_aborted.
    boost::asio::awaitable<lease> acquire(std::shared_ptr<waiter> w, boost::system::error_code& ec,
                                          std::chrono::steady_clock::time_point deadline);

    /// For a `connect` lease: the socket to connect.
    std::unique_ptr<connection> new_socket();
    /// The `connect` lease's socket is connected and speaks h2: a session now, with one stream
    /// reserved for the request that connected it.
    std::shared_ptr<session> add(std::unique_ptr<connection> socket);
    /// The `connect` lease's attempt failed: its slot goes to the next in line.
    void connect_failed();
    /// The origin chose http/1.1 in ALPN: the `connect` lease's slot is given up, and every
    /// waiter and later request is told to use HTTP/1.1.
    void origin_is_http1();
    bool http1_only() const noexcept { return http1_; }
    /// A lease given up unused (the request was cancelled before it opened its stream).
    void give_back(lease l);

    std::size_t open_connections() const noexcept { return open_; }
    std::size_t idle_connections() const noexcept;
    std::size_t waiting_requests() const noexcept { return waiters_.size(); }

private:
    void dispatch();                        // serves waiters in order while there is room
    void prune();                           // drops closed sessions, closes idle ones past idle_timeout
    std::shared_ptr<session> with_room();  // the first usable session with a free stream
    bool may_connect(std::size_t waiting) const noexcept;
    void grant(lease l);

    boost::asio::any_io_executor executor_;
    pool_settings settings_;
    boost::asio::ssl::context* tls_;
    http2_options options_;
    std::vector<std::shared_ptr<session>> sessions_;
    waiting_line<waiter> waiters_;
    std::size_t open_ = 0;        // sessions + connections being opened
    std::size_t connecting_ = 0;
    bool http1_ = false;
    // Streams a connection takes in its whole life, learned from a GOAWAY that refused streams
    // already sent (nginx's keepalive_requests): later connections get no more, so that requests
    // are not refused and sent again. 0: unknown, no limit.
    std::uint64_t streams_per_connection_ = 0;
    std::chrono::steady_clock::time_point learned_at_{};
    bool dispatch_posted_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // sessions' hooks check it
};

}  // namespace llmstream::http::h2
