// The rate governor's driver on the client's executor: one waiting line per model, served in
// arrival order, woken by a timer when the head may go or when an attempt in flight ends.
// Cancellation and the request's deadline end a wait at once; a wait that could only end past the
// deadline or `max_wait` fails at once (errc::rate_limit_wait_exceeded), without waiting in vain.
// With limits.redis the rates are decided by Redis (redis_store.hpp), and by the local governor
// while Redis does not answer.
#pragma once

#include <llmstream/config.hpp>
#include <llmstream/limits.hpp>

#include "limits/governor.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace llmstream::limits {

class gate;
class redis_store;
struct line;

/// One request's place with the gate: it waits for admission, holds a place while its attempt
/// runs, and gives it back. One per request (reused by its attempts); cancel() ends a wait.
class ticket {
public:
    explicit ticket(boost::asio::any_io_executor ex) : timer_(ex) {}
    void cancel() {
        cancelled_ = true;
        timer_.cancel();
    }
    bool holding() const noexcept { return holding_; }

private:
    friend class gate;
    friend struct line;
    boost::asio::steady_timer timer_;
    std::shared_ptr<line> line_;  // the model's line, while waiting or holding
    std::uint64_t tokens_ = 0;    // reserved at admission
    clock::time_point give_up_{};
    blocker waiting_for_ = blocker::none;
    std::string note_;      // from the line: e.g. admitted locally because Redis did not answer
    bool decided_ = false;  // admitted or refused by the line
    bool admitted_ = false;
    bool by_store_ = false;  // admitted by Redis (else by the local governor)
    bool holding_ = false;
    bool cancelled_ = false;
};

class gate {
public:
    using random_source = std::function<double()>;  // uniform in [0, 1), for the cool-down's jitter

    /// `shared_key`: what limits.redis shares the limits by (see rate_limits::key). Throws
    /// std::invalid_argument for an unusable limits.redis.
    gate(boost::asio::any_io_executor ex, const rate_limits& limits, random_source random, std::string shared_key,
         const tls_options& tls);
    ~gate();

    /// Waits until the request may start an attempt of `model`, estimated at `tokens` tokens.
    /// Returns no error when admitted (then release() must follow), operation_aborted when
    /// cancelled, errc::rate_limit_wait_exceeded when the wait would pass `deadline` or
    /// `max_wait`; `hint` then says which limit held it. `note` gets what the line had to say
    /// on admission (e.g. that Redis did not answer).
    boost::asio::awaitable<boost::system::error_code> admit(std::shared_ptr<ticket> t, const std::string& model,
                                                            std::uint64_t tokens, clock::time_point deadline,
                                                            std::string& hint, std::string& note);

    /// The admitted attempt ended. `succeeded`: without an error (only that grows the adaptive
    /// rate); `used`: the tokens its response reported; `refused`: the provider answered with an
    /// error status; `throttled`: that error was a throttle 429, with the server's Retry-After if
    /// it sent one.
    void release(ticket& t, bool succeeded, std::optional<std::uint64_t> used, bool refused, bool throttled,
                 std::optional<clock::duration> retry_after);

private:
    std::shared_ptr<line> line_for(const std::string& model);

    boost::asio::any_io_executor executor_;
    rate_limits limits_;
    random_source random_;
    std::shared_ptr<redis_store> store_;
    std::unordered_map<std::string, std::shared_ptr<line>> lines_;
};

/// The token estimate the governor reserves for a request: body bytes / 3 + max_tokens (or the
/// configured estimate when unset).
std::uint64_t estimate_tokens(std::size_t body_bytes, std::optional<std::int64_t> max_tokens, const rate_limits& limits);

}  // namespace llmstream::limits
