// Keep-alive HTTP/1.1 connections to one origin, plain TCP or TLS, and the pool that owns them.
#pragma once

#include "handler_memory.hpp"
#include "origin.hpp"
#include "tls_stream.hpp"
#include "waiting_line.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <variant>

namespace llmstream::http {

/// One connection. Owned by one request at a time. (A response is read by its own
/// http::response_reader; a connection with bytes beyond its last response is not reused.)
struct connection {
    using tcp_stream = boost::beast::tcp_stream;
    using tls_stream = http::tls_stream;

    connection(boost::asio::any_io_executor ex, boost::asio::ssl::context* tls_context);

    tcp_stream& lowest_layer() noexcept;
    /// Closes the socket: pending operations complete with operation_aborted.
    void close() noexcept;
    /// A pooled connection the server closed (or that has unexpected bytes) is not reusable.
    bool looks_alive() noexcept;

    std::variant<tcp_stream, tls_stream> stream;
    bool connected = false;
    std::size_t exchanges = 0;  ///< requests sent on it: a failure before any response byte on a used one means stale
    std::chrono::steady_clock::time_point idle_since{};
    /// Where its socket reads live (one at a time: the h1 exchange's or the h2 session's); the
    /// connection outlives every read on it.
    static constexpr std::size_t read_memory_size = 512;
    handler_memory<read_memory_size> read_memory;
};

struct pool_settings {
    std::size_t max_connections = 256;
    std::size_t max_waiting = 100'000;
    std::chrono::milliseconds wait_timeout{30'000};
    std::chrono::milliseconds idle_timeout{50'000};
};

/// A request waiting for a connection (in the pool's line, or for a turn at the connect gate,
/// connect_gate.hpp): woken by cancelling its timer with `granted` set and
/// either a connection handed over or a slot reserved for it, so that nobody who arrives
/// between the wake-up and the waiter's turn can take what was freed for it (first come, first
/// served).
struct pool_waiter {
    explicit pool_waiter(boost::asio::any_io_executor ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    bool granted = false;
    bool cancelled = false;
    std::unique_ptr<connection> handed;  // a released keep-alive connection, or none: then room
                                         // for a new one (already counted as open)
};

class connection_pool {
public:
    connection_pool(boost::asio::any_io_executor ex, pool_settings settings, boost::asio::ssl::context* tls_context);

    /// A connection to use: an idle one that still looks alive, else a new unconnected one while
    /// under the limit, else waits in line (bounded queue; until wait_timeout or `deadline`,
    /// whichever is sooner). `waiter` lets the caller cancel the wait. Errors:
    /// errc::pool_queue_full, errc::pool_wait_timeout, errc::deadline_exceeded, operation_aborted.
    boost::asio::awaitable<std::unique_ptr<connection>> acquire(
        std::shared_ptr<pool_waiter> waiter, boost::system::error_code& ec,
        std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

    /// Returns a connection: handed to the first waiter or kept for reuse when `reusable`, else
    /// closed (and its slot handed to the first waiter).
    void release(std::unique_ptr<connection> c, bool reusable);

    /// Closes a connection found stale and gives a new unconnected one in its slot: the request
    /// that held it keeps its place instead of queueing again behind later ones.
    std::unique_ptr<connection> replace(std::unique_ptr<connection> stale);

    /// Takes in a connection opened elsewhere (one the HTTP/2 pool connected, whose server chose
    /// http/1.1): it counts as open here from now on, held by the caller.
    std::unique_ptr<connection> adopt(std::unique_ptr<connection> c) {
        ++open_;
        return c;
    }

    std::size_t open_connections() const noexcept { return open_; }
    std::size_t idle_connections() const noexcept { return idle_.size(); }
    std::size_t waiting_requests() const noexcept { return waiters_.size(); }

private:
    void free_slot();  // a connection closed: its slot goes to the first waiter, else it is free
    std::shared_ptr<pool_waiter> next_waiter();
    std::unique_ptr<connection> take_handed(std::unique_ptr<connection> c);

    boost::asio::any_io_executor executor_;
    pool_settings settings_;
    boost::asio::ssl::context* tls_context_;
    std::size_t open_ = 0;
    std::deque<std::unique_ptr<connection>> idle_;
    waiting_line<pool_waiter> waiters_;
};

}  // namespace llmstream::http
