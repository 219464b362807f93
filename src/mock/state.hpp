// What the mock's sessions share: the executor, the listening socket, TLS, the counters, and what
// stop() must close (sockets) and wake (timers).
#pragma once

#include <llmstream/mock/server.hpp>

#include "limits/gcra.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace llmstream::mock {

struct server::state : std::enable_shared_from_this<server::state> {
    explicit state(boost::asio::any_io_executor ex) : executor(ex), acceptor(ex) {}

    /// Tracks a socket and a timer so that stop() closes and cancels them.
    void track(const std::shared_ptr<boost::asio::ip::tcp::socket>& socket) {
        std::lock_guard lock(mutex);
        sockets.remove_if([](const auto& w) { return w.expired(); });
        sockets.push_back(socket);
    }
    void track(const std::shared_ptr<boost::asio::steady_timer>& timer) {
        std::lock_guard lock(mutex);
        timers.remove_if([](const auto& w) { return w.expired(); });
        timers.push_back(timer);
    }
    bool is_stopped() const {
        std::lock_guard lock(mutex);
        return stopped;
    }

    boost::asio::any_io_executor executor;
    boost::asio::ip::tcp::acceptor acceptor;
    std::unique_ptr<boost::asio::ssl::context> tls;  // set: HTTPS (h2 and http/1.1 by ALPN)
    bool http1_only = false;                          // options::http1_only: no h2 at all
    mutable std::mutex mutex;
    stats counters;
    std::map<std::string, limits::gcra> rate_limits;  // options::requests_per_minute, per model (under the mutex)
    limits::clock::duration rate_interval{};
    limits::clock::duration rate_burst{};
    std::list<std::weak_ptr<boost::asio::ip::tcp::socket>> sockets;
    std::list<std::weak_ptr<boost::asio::steady_timer>> timers;  // sessions' pacing and stall timers
    bool stopped = false;
};

}  // namespace llmstream::mock
