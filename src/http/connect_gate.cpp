#include "connect_gate.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

#include <algorithm>

namespace llmstream::http {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;

asio::awaitable<error_code> connect_gate::enter(std::shared_ptr<pool_waiter> waiter, clock::time_point deadline) {
    if (waiter->cancelled) co_return asio::error::operation_aborted;
    if (limit_ == 0 || (opening_ < limit_ && waiters_.empty())) {
        ++opening_;
        co_return error_code{};
    }
    const clock::time_point wait_end =
        wait_timeout_.count() > 0 ? clock::now() + wait_timeout_ : clock::time_point::max();
    waiter->granted = false;
    waiter->timer.expires_at(std::min(wait_end, deadline));
    waiters_.push_back(waiter);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::deferred));
    if (waiter->granted) {
        waiter->granted = false;
        // Cancelled, or past the deadline, after its turn came (the wake-up can race either):
        // the turn goes to the next in line, unused.
        if (waiter->cancelled || clock::now() >= deadline) {
            leave();
            co_return waiter->cancelled ? error_code(asio::error::operation_aborted)
                                        : error_code(errc::deadline_exceeded);
        }
        co_return error_code{};
    }
    waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
    if (waiter->cancelled) co_return asio::error::operation_aborted;
    if (deadline < wait_end) co_return errc::deadline_exceeded;
    co_return errc::pool_wait_timeout;
}

void connect_gate::leave() noexcept {
    if (waiters_.empty()) {
        --opening_;
        return;
    }
    // The turn passes on: the count stays.
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->granted = true;
    w->timer.cancel();
}

}  // namespace llmstream::http
