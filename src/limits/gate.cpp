#include "limits/gate.hpp"

#include <llmstream/error.hpp>

#include "limits/redis_store.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <deque>

namespace llmstream::limits {

namespace asio = boost::asio;
using boost::system::error_code;

// The waiting line of one model: its local governor (the rates when there is no Redis or it does
// not answer; attempts in flight always), the tickets in arrival order, and the timer that wakes
// the head when its limit allows it.
struct line : std::enable_shared_from_this<line> {
    line(asio::any_io_executor ex, const rate_limits& limits, std::shared_ptr<redis_store> s, std::string m)
        : decisions(limits), store(std::move(s)), model(std::move(m)), wake(ex) {}

    // Admits tickets from the head while the limits allow; fails at once a head whose wait
    // would pass its give-up time; arms the timer for the next try. With Redis, the head's
    // question goes to Redis and the line waits for the answer (ask).
    void serve(clock::time_point now) {
        while (!asking && !waiting.empty()) {
            ticket& t = *waiting.front();
            if (t.cancelled_ || t.decided_) {
                waiting.pop_front();
                continue;
            }
            if (now >= t.give_up_) {  // its own timer has yet to run: never admit it late
                decide(false, false);
                continue;
            }
            if (store && store->available(now)) {
                if (decisions.in_flight_full()) {
                    t.waiting_for_ = blocker::in_flight;
                    return;  // release() serves again
                }
                asking = true;
                try {
                    asio::co_spawn(wake.get_executor(), ask(shared_from_this(), waiting.front()), asio::detached);
                } catch (...) {  // out of memory: the line is not left waiting on a question never asked
                    asking = false;
                    throw;
                }
                return;
            }
            const admission a = decisions.try_admit(now, t.tokens_);
            t.waiting_for_ = a.waiting_for;
            if (a.admitted && store) t.note_ = store->take_outage_note();
            if (a.admitted || (a.retry_at && *a.retry_at > t.give_up_)) {
                decide(a.admitted, false);
                continue;
            }
            if (a.retry_at) wake_at(*a.retry_at);
            return;  // the head waits, and everyone behind it (arrival order)
        }
    }

    // Redis's answer for the head `t`.
    static asio::awaitable<void> ask(std::shared_ptr<line> self, std::shared_ptr<ticket> t) {
        const redis_store::verdict v = co_await self->store->admit(self->model, t->tokens_);
        self->asking = false;
        const auto now = clock::now();
        const bool still_head = !self->waiting.empty() && self->waiting.front() == t && !t->cancelled_ &&
                                !t->decided_ && now < t->give_up_;
        if (v.answered && v.admitted && !still_head) {
            // It left (cancelled, or out of time) while Redis admitted it: give the fleet its place back.
            self->store->give_back(self->model, 1, static_cast<double>(t->tokens_));
        } else if (v.answered && still_head) {
            t->waiting_for_ = v.waiting_for;
            if (v.admitted) {
                self->decisions.enter();
                self->decide(true, true);
            } else if (now + v.wait > t->give_up_) {
                self->decide(false, true);
            } else {
                self->wake_at(now + v.wait);
                co_return;
            }
        }
        self->serve(now);  // the next one; or, when Redis did not answer, this one by the local limits
    }

    void decide(bool admitted, bool by_store) {
        ticket& t = *waiting.front();
        t.decided_ = true;
        t.admitted_ = admitted;
        t.by_store_ = by_store;
        t.timer_.cancel();
        waiting.pop_front();
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
    std::shared_ptr<redis_store> store;  // null: local limits only
    std::string model;
    std::deque<std::shared_ptr<ticket>> waiting;
    asio::steady_timer wake;
    bool armed = false;
    bool asking = false;  // a question about the head is with Redis
    clock::time_point armed_for{};
};

gate::gate(asio::any_io_executor ex, const rate_limits& limits, random_source random, std::string shared_key,
           const tls_options& tls)
    : executor_(std::move(ex)), limits_(limits), random_(std::move(random)) {
    if (!limits.redis.empty()) store_ = std::make_shared<redis_store>(executor_, limits, std::move(shared_key), tls);
}

gate::~gate() {
    for (auto& [model, l] : lines_) l->wake.cancel();
}

std::shared_ptr<line> gate::line_for(const std::string& model) {
    auto& l = lines_[model];
    if (!l) l = std::make_shared<line>(executor_, limits_, store_, model);
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
                                        clock::time_point deadline, std::string& hint, std::string& note) {
    if (t->cancelled_) co_return asio::error::operation_aborted;
    const auto now = clock::now();
    const auto l = line_for(model);
    t->line_ = l;
    t->tokens_ = tokens;
    t->give_up_ = std::min(deadline, now + limits_.max_wait);
    t->decided_ = t->admitted_ = t->by_store_ = false;
    t->waiting_for_ = blocker::none;
    t->note_.clear();
    l->waiting.push_back(t);
    l->serve(now);
    if (!t->decided_) {
        t->timer_.expires_at(t->give_up_);
        co_await t->timer_.async_wait(asio::as_tuple(asio::deferred));
    }
    if (!t->note_.empty()) note = std::move(t->note_);
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
    hint = std::string("the client's own rate limits did not admit the request: waiting for ") +
           describe(t->waiting_for_) + (fast ? " would pass " : " passed ") +
           (t->give_up_ == deadline ? "the request's deadline (timeouts.total)" : "limits.max_wait");
    co_return errc::rate_limit_wait_exceeded;
}

void gate::release(ticket& t, bool succeeded, std::optional<std::uint64_t> used, bool refused, bool throttled,
                   std::optional<clock::duration> retry_after) {
    if (!t.holding_ || !t.line_) return;
    t.holding_ = false;
    const auto l = std::move(t.line_);
    const auto now = clock::now();
    const double random01 = random_ ? random_() : 0.0;
    if (t.by_store_) {
        l->decisions.leave();
        if (refused) store_->give_back(l->model, 0, static_cast<double>(t.tokens_));
        else if (used) store_->give_back(l->model, 0, static_cast<double>(t.tokens_) - static_cast<double>(*used));
        if (throttled) store_->throttled(l->model, governor::cooldown(limits_, retry_after, random01));
        else if (succeeded) store_->succeeded(l->model);
    } else {
        l->decisions.release(t.tokens_, used, refused);
    }
    // The local governor hears of throttles either way: it is the fallback.
    if (throttled) l->decisions.on_throttle(now, retry_after, random01);
    else if (succeeded && !t.by_store_) l->decisions.on_success();
    l->serve(now);
}

std::uint64_t estimate_tokens(std::size_t body_bytes, std::optional<std::int64_t> max_tokens, const rate_limits& limits) {
    const std::uint64_t output =
        max_tokens && *max_tokens > 0 ? static_cast<std::uint64_t>(*max_tokens) : limits.output_tokens_estimate;
    return body_bytes / 3 + output;
}

}  // namespace llmstream::limits
