// The rate governor's shared state on Redis: one hash per limit key and model, changed only by
// the Lua scripts in redis_store.cpp (admission, token correction, the cool-down after a throttle,
// the adaptive rate), each one atomic, sent by EVALSHA (EVAL when Redis does not know it yet), with
// time from Redis's own TIME so that the machines' clocks need not agree. The same decisions as
// governor.hpp, which stays the fallback when Redis does not answer.
#pragma once

#include <llmstream/config.hpp>
#include <llmstream/limits.hpp>

#include "limits/governor.hpp"
#include "limits/redis_connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace llmstream::limits {

class redis_store : public std::enable_shared_from_this<redis_store> {
public:
    /// `key`: what the limits are shared by (rate_limits::key or a fingerprint, never a secret).
    /// Throws std::invalid_argument for an unusable limits.redis URL (the password is not echoed).
    /// `tls`: the client's TLS options, for rediss://.
    redis_store(boost::asio::any_io_executor ex, const rate_limits& limits, std::string key, const tls_options& tls);

    struct verdict {
        bool answered = false;  ///< false: Redis did not answer in time; decide locally
        bool admitted = false;
        blocker waiting_for = blocker::none;
        clock::duration wait{};  ///< when not admitted: how long until asking again
    };

    /// Asks Redis to admit one request of `model` estimated at `tokens` tokens.
    boost::asio::awaitable<verdict> admit(const std::string& model, std::uint64_t tokens);

    // Reported without waiting (a failure only marks Redis down).
    /// Gives back `requests` admissions and `tokens` tokens (negative: charges more), e.g. when
    /// the real usage is known, or when a request admitted by Redis left before it could go.
    void give_back(const std::string& model, int requests, double tokens);
    void throttled(const std::string& model, clock::duration cooldown);
    void succeeded(const std::string& model);

    /// False while Redis is considered down (for a second after it failed): decide locally.
    bool available(clock::time_point now) const noexcept { return now >= down_until_; }
    /// Once per outage: the note for the first request admitted by the local fallback ("" after).
    std::string take_outage_note();
    /// host:port, for notes (no credentials).
    std::string where() const { return address_.shown(); }
    /// The Redis hash of a model's state (for tests and operators).
    std::string hash_key(const std::string& model) const;

private:
    boost::asio::awaitable<bool> eval(int script, std::vector<std::string> keys_and_args, redis_reply& reply);
    void fire(int script, std::vector<std::string> keys_and_args);
    void mark(const std::string& failure);

    boost::asio::any_io_executor executor_;
    rate_limits limits_;
    std::string key_;
    redis_address address_;
    std::unique_ptr<boost::asio::ssl::context> tls_;  // rediss:// only
    std::shared_ptr<redis_connection> connection_;
    clock::time_point down_until_{};
    bool outage_noted_ = false;
    std::string failure_;  // why Redis was last found down (never a secret)
};

/// The default limit key: a fingerprint (SHA-256, hex) of base URL, API key and workspace.
std::string limit_fingerprint(const std::string& base_url, const std::string& api_key, const std::string& workspace);

}  // namespace llmstream::limits
