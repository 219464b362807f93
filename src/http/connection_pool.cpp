#include "connection_pool.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/this_coro.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace llmstream::http {

namespace asio = boost::asio;

connection::connection(asio::any_io_executor ex, asio::ssl::context* tls_context)
    : stream(tls_context ? std::variant<tcp_stream, tls_stream>(std::in_place_type<tls_stream>, ex, *tls_context)
                         : std::variant<tcp_stream, tls_stream>(std::in_place_type<tcp_stream>, ex)) {}

connection::tcp_stream& connection::lowest_layer() noexcept {
    if (auto* plain = std::get_if<tcp_stream>(&stream)) return *plain;
    return std::get<tls_stream>(stream).next_layer();
}

void connection::close() noexcept {
    boost::system::error_code ignored;
    lowest_layer().socket().close(ignored);
}

bool connection::looks_alive() noexcept {
    auto& socket = lowest_layer().socket();
    if (!socket.is_open()) return false;
    char byte = 0;
    // One peek that never blocks: asio's non_blocking(true) and (false) around it cost two ioctls,
    // and a third when the next read made the socket non-blocking again, per reused connection.
    const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    // Idle means "nothing to read yet"; EOF, an error or unexpected bytes all mean "do not reuse".
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

connection_pool::connection_pool(asio::any_io_executor ex, pool_settings settings, asio::ssl::context* tls_context)
    : executor_(std::move(ex)), settings_(settings), tls_context_(tls_context) {}

asio::awaitable<std::unique_ptr<connection>> connection_pool::acquire(std::shared_ptr<pool_waiter> waiter,
                                                                      boost::system::error_code& ec,
                                                                      std::chrono::steady_clock::time_point deadline) {
    using clock = std::chrono::steady_clock;
    ec = {};
    if (waiter->cancelled) {  // cancelled before the wait: do not start one
        ec = asio::error::operation_aborted;
        co_return nullptr;
    }
    const auto now = clock::now();
    if (waiters_.empty()) {  // with requests in line, what frees up is theirs
        while (!idle_.empty()) {
            std::unique_ptr<connection> c = std::move(idle_.back());  // the most recently used is warmest
            idle_.pop_back();
            const bool fresh = settings_.idle_timeout.count() == 0 || now - c->idle_since < settings_.idle_timeout;
            if (fresh && c->looks_alive()) co_return c;
            c->close();
            --open_;
        }
        if (open_ < settings_.max_connections) {
            auto c = std::make_unique<connection>(executor_, tls_context_);  // may throw: count after
            ++open_;
            co_return c;
        }
    }
    if (waiters_.size() >= settings_.max_waiting) {
        ec = errc::pool_queue_full;
        co_return nullptr;
    }
    const clock::time_point wait_end =
        settings_.wait_timeout.count() > 0 ? now + settings_.wait_timeout : clock::time_point::max();
    ec = co_await waiters_.wait(waiter, wait_end, deadline);
    std::unique_ptr<connection> handed = std::move(waiter->handed);
    if (waiter->granted) {  // its turn came, but it no longer wants it: what it was given goes on, unused
        waiter->granted = false;
        if (handed) release(std::move(handed), true);
        else free_slot();
    }
    if (ec) co_return nullptr;
    co_return take_handed(std::move(handed));
}

// What a granted waiter gets: the connection handed to it if it is still good, else a new one in
// the same slot (which stays counted as open).
std::unique_ptr<connection> connection_pool::take_handed(std::unique_ptr<connection> c) {
    if (c && c->looks_alive()) return c;
    if (c) c->close();
    try {
        return std::make_unique<connection>(executor_, tls_context_);
    } catch (...) {
        free_slot();  // the slot must not stay counted for a connection that does not exist
        throw;
    }
}

std::unique_ptr<connection> connection_pool::replace(std::unique_ptr<connection> stale) {
    stale->close();
    stale.reset();
    return take_handed(nullptr);
}

void connection_pool::release(std::unique_ptr<connection> c, bool reusable) {
    if (!c) return;
    if (reusable) {
        c->idle_since = std::chrono::steady_clock::now();
        if (auto w = next_waiter()) {
            w->handed = std::move(c);
            w->timer.cancel();
        } else {
            try {
                idle_.push_back(std::move(c));
            } catch (const std::bad_alloc&) {  // no room to keep it: closed like one not reusable
                c->close();
                free_slot();
            }
        }
        return;
    }
    c->close();
    free_slot();
}

void connection_pool::free_slot() {
    if (auto w = next_waiter()) {
        // No connection handed over: the slot stays counted and is the waiter's now.
        w->timer.cancel();
    } else {
        --open_;
    }
}

std::shared_ptr<pool_waiter> connection_pool::next_waiter() { return waiters_.pop_granted(); }

}  // namespace llmstream::http
