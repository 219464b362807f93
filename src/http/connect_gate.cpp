#include "connect_gate.hpp"

#include <llmstream/error.hpp>

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
    const error_code ec = co_await waiters_.wait(waiter, wait_end, deadline);
    if (waiter->granted) {  // its turn came, but it no longer wants it: the turn goes on, unused
        waiter->granted = false;
        leave();
    }
    co_return ec;
}

void connect_gate::leave() noexcept {
    if (auto w = waiters_.pop_granted()) {
        w->timer.cancel();  // the turn passes on: the count stays
        return;
    }
    --opening_;
}

}  // namespace llmstream::http
