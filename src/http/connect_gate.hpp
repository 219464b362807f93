// How many connections one client opens at once (name lookup, TCP, proxy tunnel, TLS handshake).
// A burst that opens thousands at once holds every handshake's transient state (key shares,
// transcripts, record buffers) at the same time: it fragments the heap for good (measured: 10,000
// HTTP/1.1 TLS connections kept 55 KB of resident memory each, 39 KB in turns of 1,024), and every
// handshake ends near the end of the burst. In turns, the first requests start streaming first.
#pragma once

#include "connection_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace llmstream::http {

class connect_gate {
public:
    /// `limit`: connections opened at once (0: no limit). A turn is waited for at most
    /// `wait_timeout` (0: no limit), like a connection from the pool.
    connect_gate(std::size_t limit, std::chrono::milliseconds wait_timeout) : limit_(limit), wait_timeout_(wait_timeout) {}
    connect_gate(const connect_gate&) = delete;
    connect_gate& operator=(const connect_gate&) = delete;

    /// Waits for a turn to open a connection: at once while fewer than the limit are being opened
    /// and nobody waits, else in arrival order. Ends with no error (the turn is the caller's until
    /// leave()), errc::pool_wait_timeout, errc::deadline_exceeded (by `deadline`), or
    /// operation_aborted (the waiter was cancelled: `cancelled` set and its timer cancelled).
    boost::asio::awaitable<boost::system::error_code> enter(
        std::shared_ptr<pool_waiter> waiter,
        std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());
    /// A connection was opened, or failed to be: its turn goes to the first in line.
    void leave() noexcept;

    std::size_t opening() const noexcept { return opening_; }
    std::size_t waiting() const noexcept { return waiters_.size(); }

    /// A turn held from a successful enter() to the end of the scope.
    class turn {
    public:
        explicit turn(connect_gate& gate) noexcept : gate_(gate) {}
        ~turn() { gate_.leave(); }
        turn(const turn&) = delete;
        turn& operator=(const turn&) = delete;

    private:
        connect_gate& gate_;
    };

private:
    std::size_t limit_;
    std::chrono::milliseconds wait_timeout_;
    std::size_t opening_ = 0;
    waiting_line<pool_waiter> waiters_;
};

}  // namespace llmstream::http
