// The retry decision after a failed attempt: retry or not, how long to wait first, and if not,
// why. Sans-IO: time and randomness come in as arguments, so tests drive it without sleeping.
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/retry.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llmstream::retry {

using clock = std::chrono::steady_clock;

/// The client-wide retry budget (see retry_budget_options): per-second counters of first
/// attempts and retries over a sliding window.
class budget {
public:
    explicit budget(const retry_budget_options& options);

    /// A first attempt was made: it earns `ratio` retries for the next `window`.
    void record_request(clock::time_point now);
    /// Takes one retry from the budget if one is available.
    bool try_withdraw(clock::time_point now);
    /// Retries still available in the current window (may be fractional).
    double available(clock::time_point now);

private:
    struct second_slot {
        std::int64_t second = -1;
        std::uint64_t requests = 0;
        std::uint64_t retries = 0;
    };
    second_slot& slot(clock::time_point now);

    retry_budget_options options_;
    std::vector<second_slot> slots_;
};

struct decision {
    bool retry = false;
    std::chrono::milliseconds wait{0};
    std::string note;  ///< when a retryable failure is not retried: why (for diagnostics::retry_note)
};

/// One per request: remembers how many retries were made and the previous wait.
class planner {
public:
    /// Returns uniformly distributed values in [0, 1).
    using random_source = std::function<double()>;

    planner(const retry_policy& policy, random_source random);

    /// Called after a failed attempt. `diag` holds what the server said (Retry-After,
    /// x-should-retry). `deadline` is the request's whole-call deadline, if any. `budget` may be
    /// null (no client-wide limit). A retry it allows is counted at once.
    decision after_failure(const boost::system::error_code& ec, const diagnostics& diag, clock::time_point now,
                           std::optional<clock::time_point> deadline, budget* budget);

    /// The wait before retry number `retries_made + 1`, before Retry-After, deadline and budget
    /// are considered.
    std::chrono::milliseconds backoff();

    int retries_made() const noexcept { return retries_; }

private:
    retry_policy policy_;
    random_source random_;
    int retries_ = 0;
    std::chrono::milliseconds previous_{0};
};

/// Seconds with up to three decimals, for notes: "1.5 s".
std::string format_seconds(std::chrono::milliseconds ms);

}  // namespace llmstream::retry
