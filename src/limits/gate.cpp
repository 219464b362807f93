#include "limits/gate.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <deque>

namespace llmstream::limits {

namespace asio = boost::asio;
using boost::system::error_code;

// The waiting line of one model: its governor, the tickets in arrival order, and the timer that
// wakes the head when its limit allows it.
struct line : std::enable_shared_from_this<line> {
    line(asio::any_io_executor ex, const rate_limits& limits) : decisions(limits), wake(ex) {}

    // Admits tickets from the head while the governor allows; fails at once a head whose wait
    // would pass its give-up time; arms the timer for the next try.
    void serve(clock::time_point now) {
        while (!waiting.empty()) {
            ticket& t = *waiting.front();
            if (t.cancelled_ || t.decided_) {
                waiting.pop_front();
                continue;
            }
            const admission a = decisions.try_admit(now, t.tokens_);
            t.waiting_for_ = a.waiting_for;
            if (a.admitted || (a.retry_at && *a.retry_at > t.give_up_)) {
                t.decided_ = true;
                t.admitted_ = a.admitted;
                t.timer_.cancel();
                waiting.pop_front();
                continue;
            }
            if (a.retry_at) wake_at(*a.retry_at);
            return;  // the head waits, and everyone behind it (arrival order)
        }
    }

    void wake_at(clock::time_point when) {
        if (armed && when >= armed_for) return;
        armed = true;
        armed_for = when;
        wake.expires_at(when);
        wake.async_wait([weak = weak_from_this()](const error_code& ec) {
            if (ec == asio::error::operation_aborted) return;  // re-armed earlier, or the gate is gone
            auto self = weak.lock();
            if (!self) return;
            self->armed = false;
            self->serve(clock::now());
        });
    }

    governor decisions;
    std::deque<std::shared_ptr<ticket>> waiting;
    asio::steady_timer wake;
    bool armed = false;
    clock::time_point armed_for{};
};

gate::gate(asio::any_io_executor ex, const rate_limits& limits, random_source random)
    : executor_(std::move(ex)), limits_(limits), random_(std::move(random)) {}

gate::~gate() {
    for (auto& [model, l] : lines_) l->wake.cancel();
}

std::shared_ptr<line> gate::line_for(const std::string& model) {
    auto& l = lines_[model];
    if (!l) l = std::make_shared<line>(executor_, limits_);
    return l;
}

namespace {

const char* describe(blocker b) {
    switch (b) {
    case blocker::cooldown: return "the cool-down after the provider's throttle (429)";
    case blocker::in_flight: return "limits.max_in_flight (attempts under way)";
    case blocker::requests: return "limits.requests_per_minute";
    case blocker::tokens: return "limits.tokens_per_minute";
    case blocker::none: break;
    }
    return "the rate limits";
}

}  // namespace

asio::awaitable<error_code> gate::admit(std::shared_ptr<ticket> t, const std::string& model, std::uint64_t tokens,
                                        clock::time_point deadline, std::string& note) {
    if (t->cancelled_) co_return asio::error::operation_aborted;
    const auto now = clock::now();
    const auto l = line_for(model);
    t->line_ = l;
    t->tokens_ = tokens;
    t->give_up_ = std::min(deadline, now + limits_.max_wait);
    t->decided_ = t->admitted_ = false;
    t->waiting_for_ = blocker::none;
    l->waiting.push_back(t);
    l->serve(now);
    if (!t->decided_) {
        t->timer_.expires_at(t->give_up_);
        co_await t->timer_.async_wait(asio::as_tuple(asio::deferred));
    }
    if (t->admitted_) {
        t->holding_ = true;
        co_return error_code{};
    }
    // Not admitted: leave the line, and let the next one try.
    std::erase(l->waiting, t);
    t->line_.reset();
    l->serve(clock::now());
    if (t->cancelled_) co_return asio::error::operation_aborted;
    const bool fast = clock::now() < t->give_up_;
    note = std::string("the client's own rate limits did not admit the request: waiting for ") +
           describe(t->waiting_for_) + (fast ? " would pass " : " passed ") +
           (t->give_up_ == deadline ? "the request's deadline (timeouts.total)" : "limits.max_wait");
    co_return errc::rate_limit_wait_exceeded;
}

void gate::release(ticket& t, std::optional<std::uint64_t> used, bool refused, bool throttled,
                   std::optional<clock::duration> retry_after) {
    if (!t.holding_ || !t.line_) return;
    t.holding_ = false;
    const auto l = std::move(t.line_);
    const auto now = clock::now();
    l->decisions.release(t.tokens_, used, refused);
    if (throttled) l->decisions.on_throttle(now, retry_after, random_ ? random_() : 0.0);
    else if (!refused) l->decisions.on_success();
    l->serve(now);
}

std::uint64_t estimate_tokens(std::size_t body_bytes, std::optional<std::int64_t> max_tokens, const rate_limits& limits) {
    const std::uint64_t output =
        max_tokens && *max_tokens > 0 ? static_cast<std::uint64_t>(*max_tokens) : limits.output_tokens_estimate;
    return body_bytes / 3 + output;
}

}  // namespace llmstream::limits
