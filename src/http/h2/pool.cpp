#include "pool.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>

namespace llmstream::http::h2 {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;

pool::pool(asio::any_io_executor ex, pool_settings settings, asio::ssl::context* tls, const http2_options& options)
    : executor_(std::move(ex)), settings_(settings), tls_(tls), options_(options) {
    options_.max_concurrent_streams = std::max<std::size_t>(1, options_.max_concurrent_streams);
}

pool::~pool() {
    *alive_ = false;
    for (auto& s : sessions_) {
        s->on_change = nullptr;
        s->shutdown();
    }
}

std::size_t pool::idle_connections() const noexcept {
    return static_cast<std::size_t>(std::count_if(sessions_.begin(), sessions_.end(), [](const auto& s) {
        return !s->closed() && s->active_streams() == 0 && s->reserved() == 0;
    }));
}

void pool::prune() {
    const auto now = clock::now();
    // A learned limit is forgotten after a while: the server's configuration may change, and a
    // GOAWAY of a reload is no lasting limit.
    if (streams_per_connection_ != 0 && now - learned_at_ >= std::chrono::minutes(5)) streams_per_connection_ = 0;
    for (auto& s : sessions_) {
        if (const auto served = s->streams_served_before_goaway(); served > 0) {
            streams_per_connection_ = served;
            learned_at_ = now;
        }
        // A connection that used up the streams the server gives it is of no more use once idle.
        if (streams_per_connection_ != 0 && s->streams_committed() >= streams_per_connection_ &&
            s->active_streams() == 0 && s->reserved() == 0 && !s->closed())
            s->shutdown();
        if (!s->closed() && s->active_streams() == 0 && s->reserved() == 0 && settings_.idle_timeout.count() > 0 &&
            now - s->idle_since() >= settings_.idle_timeout)
            s->shutdown();
    }
    const auto before = sessions_.size();
    std::erase_if(sessions_, [](const auto& s) { return s->closed() || (!s->usable() && s->active_streams() == 0 && s->reserved() == 0); });
    open_ -= before - sessions_.size();
}

std::shared_ptr<session> pool::with_room() {
    for (auto& s : sessions_) {
        if (!s->usable() || s->active_streams() + s->reserved() >= s->capacity()) continue;
        if (streams_per_connection_ != 0 && s->streams_committed() >= streams_per_connection_) continue;
        return s;
    }
    return nullptr;
}

// A new connection opens when none is being opened, or when those being opened (or waiting for
// the server's SETTINGS) cannot take everyone waiting: each is expected to take
// max_concurrent_streams until its SETTINGS say how many.
bool pool::may_connect(std::size_t waiting) const noexcept {
    if (open_ >= std::max<std::size_t>(1, settings_.max_connections)) return false;
    const auto pending = connecting_ + static_cast<std::size_t>(std::count_if(sessions_.begin(), sessions_.end(), [](const auto& s) {
                             return s->usable() && !s->settings_received();
                         }));
    return pending == 0 || waiting > pending * options_.max_concurrent_streams;
}

asio::awaitable<lease> pool::acquire(std::shared_ptr<waiter> w, error_code& ec, clock::time_point deadline) {
    ec = {};
    if (w->cancelled) {
        ec = asio::error::operation_aborted;
        co_return lease{};
    }
    prune();
    if (http1_) co_return lease{nullptr, false, true};
    if (waiters_.empty()) {  // with requests in line, what frees up is theirs
        if (auto s = with_room()) {
            s->reserve();
            co_return lease{std::move(s), false, false};
        }
        if (may_connect(1)) {
            ++connecting_;
            ++open_;
            co_return lease{nullptr, true, false};
        }
    }
    if (waiters_.size() >= settings_.max_waiting) {
        ec = errc::pool_queue_full;
        co_return lease{};
    }
    const auto now = clock::now();
    const clock::time_point wait_end =
        settings_.wait_timeout.count() > 0 ? now + settings_.wait_timeout : clock::time_point::max();
    ec = co_await waiters_.wait(w, wait_end, deadline, [this] { dispatch(); });  // a connection may open for it
    lease l = std::move(w->handed);
    w->handed = {};
    if (w->granted) {  // its turn came, but it no longer wants it: what it was given goes back
        w->granted = false;
        give_back(std::move(l));
    }
    if (ec) co_return lease{};
    co_return l;
}

void pool::give_back(lease l) {
    if (l.s) l.s->unreserve();
    else if (l.connect) {
        --connecting_;
        --open_;
    }
    dispatch();
}

void pool::grant(lease l) {
    auto w = waiters_.pop_granted();
    w->handed = std::move(l);
    w->timer.cancel();
}

void pool::dispatch() {
    prune();
    while (!waiters_.empty()) {
        if (http1_) {
            grant(lease{nullptr, false, true});
            continue;
        }
        if (auto s = with_room()) {
            s->reserve();
            grant(lease{std::move(s), false, false});
            continue;
        }
        if (may_connect(waiters_.size())) {
            ++connecting_;
            ++open_;
            grant(lease{nullptr, true, false});
            continue;
        }
        break;
    }
}

std::unique_ptr<connection> pool::new_socket() { return std::make_unique<connection>(executor_, tls_); }

std::shared_ptr<session> pool::add(std::unique_ptr<connection> socket) {
    // What may fail (allocations) comes first: until the count moves below, the caller still
    // holds the connection being opened, and gives it back if this throws.
    auto s = std::make_shared<session>(std::move(socket), options_);
    // A session's changes reach the pool later, not from inside nghttp2's callbacks.
    std::weak_ptr<bool> alive = alive_;
    s->on_change = [this, alive] {
        if (auto a = alive.lock(); !a || !*a) return;  // the pool is gone (its client was destroyed)
        if (dispatch_posted_) return;
        asio::post(executor_, [this, alive] {
            if (auto a = alive.lock(); !a || !*a) return;
            dispatch_posted_ = false;
            dispatch();
        });
        dispatch_posted_ = true;  // once posted: a post that failed leaves the next change to try again
    };
    sessions_.push_back(s);
    try {
        s->start();
    } catch (...) {
        sessions_.pop_back();
        throw;
    }
    --connecting_;
    s->reserve();
    dispatch();  // waiters counting on this connection
    return s;
}

void pool::connect_failed() {
    --connecting_;
    --open_;
    dispatch();
}

void pool::origin_is_http1() {
    --connecting_;
    --open_;
    http1_ = true;
    dispatch();
}

}  // namespace llmstream::http::h2
