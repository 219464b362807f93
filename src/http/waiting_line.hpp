// Requests waiting, in arrival order, for what a pool or the connect gate frees: a connection,
// room for one, a stream, a turn to open one. One way to wait for all of them: a waiter's timer
// ends its wait, cancelled with `granted` set when its turn comes (pop_granted), cancelled with
// `cancelled` set by the request itself, or expired (the wait timeout or the request's deadline).
#pragma once

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>

namespace llmstream::http {

/// `Waiter` has a steady_timer `timer` and bools `granted` and `cancelled` (pool_waiter,
/// h2::waiter).
template <class Waiter>
class waiting_line {
public:
    using clock = std::chrono::steady_clock;

    /// Puts `w` at the end of the line, runs `joined()` (which may grant it at once), and waits
    /// for its turn until `wait_end` (errc::pool_wait_timeout) or `deadline`
    /// (errc::deadline_exceeded), whichever is sooner; operation_aborted once `w` is cancelled.
    /// No error: the turn came. An error with `w->granted` still set: the turn came, but the
    /// waiter was cancelled or past its deadline by then (the wake-up can race either); what it
    /// was given is the caller's to pass on, unused (it clears `granted`).
    template <class Joined>
    boost::asio::awaitable<boost::system::error_code> wait(std::shared_ptr<Waiter> w, clock::time_point wait_end,
                                                           clock::time_point deadline, Joined joined) {
        w->granted = false;
        w->timer.expires_at(std::min(wait_end, deadline));
        waiters_.push_back(w);
        joined();
        if (!w->granted) co_await w->timer.async_wait(boost::asio::as_tuple(boost::asio::deferred));
        if (w->granted) {
            if (w->cancelled) co_return boost::asio::error::operation_aborted;
            if (clock::now() >= deadline) co_return errc::deadline_exceeded;
            w->granted = false;
            co_return boost::system::error_code{};
        }
        std::erase(waiters_, w);
        if (w->cancelled) co_return boost::asio::error::operation_aborted;
        if (deadline < wait_end) co_return errc::deadline_exceeded;
        co_return errc::pool_wait_timeout;
    }
    boost::asio::awaitable<boost::system::error_code> wait(std::shared_ptr<Waiter> w, clock::time_point wait_end,
                                                           clock::time_point deadline) {
        return wait(std::move(w), wait_end, deadline, [] {});
    }

    /// The first in line, taken out with `granted` set; the caller hands it what it gets and
    /// cancels its timer. Null when nobody waits.
    std::shared_ptr<Waiter> pop_granted() {
        if (waiters_.empty()) return nullptr;
        auto w = std::move(waiters_.front());
        waiters_.pop_front();
        w->granted = true;
        return w;
    }

    bool empty() const noexcept { return waiters_.empty(); }
    std::size_t size() const noexcept { return waiters_.size(); }

private:
    std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace llmstream::http
