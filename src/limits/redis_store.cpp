#include "limits/redis_store.hpp"
#include "http/tls_stream.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <stdexcept>

namespace llmstream::limits {

namespace asio = boost::asio;

namespace {

// Times are microseconds from Redis's TIME (Lua numbers are doubles: exact to 2^53 us, centuries).
// The hash holds: tat (requests' theoretical arrival time), ttat (tokens'), cool (cool-down end),
// rate (adaptive requests per minute) and slow (1 while in slow start). Idle hashes expire.

// KEYS[1] hash; ARGV: request interval us (0: none), burst us, tokens, token interval us (0: none;
// a fraction of a microsecond at high limits), adaptive (0/1), adaptive start rpm. Returns
// {admitted 0/1, wait us, blocker: 1 cool-down, 3 requests, 4 tokens}. Stored times are whole
// microseconds. A cost larger than the burst goes when the bucket is full and is charged in full.
constexpr const char* admit_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'ttat', 'cool', 'rate')
local tat, ttat, cool = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
local burst = tonumber(ARGV[2])
if now < cool then return {0, cool - now, 1} end
local interval = tonumber(ARGV[1])
if ARGV[5] == '1' then
  local rate = tonumber(v[4]) or tonumber(ARGV[6])
  local adaptive = 60000000 / rate
  if adaptive > interval then interval = adaptive end
end
local new_tat, new_ttat
if interval > 0 then
  local cap = math.max(burst, interval)
  local base = math.max(tat, now)
  local allow = base + interval - cap
  if allow > now then return {0, math.ceil(allow - now), 3} end
  new_tat = math.floor(base + interval)
end
local tint = tonumber(ARGV[4])
if tint > 0 then
  local cap = math.max(burst, tint)
  local cost = tint * tonumber(ARGV[3])
  local base = math.max(ttat, now)
  local allow = base + math.min(cost, cap) - cap
  if allow > now then return {0, math.ceil(allow - now), 4} end
  new_ttat = math.floor(base + cost)
end
if new_tat then redis.call('HSET', KEYS[1], 'tat', new_tat) end
if new_ttat then redis.call('HSET', KEYS[1], 'ttat', new_ttat) end
redis.call('PEXPIRE', KEYS[1], 300000)
return {1, 0, 0}
)lua";

// KEYS[1] hash; ARGV: requests given back, request interval us, tokens given back (negative:
// charged), token interval us.
constexpr const char* give_back_script = R"lua(
local v = redis.call('HMGET', KEYS[1], 'tat', 'ttat')
if v[1] then redis.call('HSET', KEYS[1], 'tat', math.floor(tonumber(v[1]) - tonumber(ARGV[1]) * tonumber(ARGV[2]))) end
if v[2] then redis.call('HSET', KEYS[1], 'ttat', math.floor(tonumber(v[2]) - tonumber(ARGV[3]) * tonumber(ARGV[4]))) end
return 1
)lua";

// KEYS[1] hash; ARGV: cool-down us (jitter included), adaptive (0/1), adaptive start rpm.
// The rate halves once per cool-down: attempts already under way meet the same throttle.
constexpr const char* throttle_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cool = tonumber(redis.call('HGET', KEYS[1], 'cool')) or 0
local cooling = now < cool
local until_ = math.floor(math.max(cool, now + tonumber(ARGV[1])))
redis.call('HSET', KEYS[1], 'cool', until_)
if ARGV[2] == '1' and not cooling then
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate')) or tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'rate', math.max(1, rate / 2), 'slow', 0)
end
redis.call('PEXPIRE', KEYS[1], 300000)
return 1
)lua";

// KEYS[1] hash; ARGV: adaptive start rpm, ceiling rpm. Slow start adds 60 per minute per success
// (the fleet's rate doubles each second); after a throttle, a quarter of the start rate a second.
constexpr const char* success_script = R"lua(
local v = redis.call('HMGET', KEYS[1], 'rate', 'slow')
local start = tonumber(ARGV[1])
local rate = tonumber(v[1]) or start
if v[2] == '0' then rate = rate + 15 * start / rate else rate = rate + 60 end
rate = math.min(rate, tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'rate', rate)
redis.call('PEXPIRE', KEYS[1], 300000)
return 1
)lua";

constexpr std::array<const char*, 4> scripts = {admit_script, give_back_script, throttle_script, success_script};
enum script_id { admit_id = 0, give_back_id = 1, throttle_id = 2, success_id = 3 };

std::string hex_digest(const EVP_MD* md, const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &n, md, nullptr) != 1) throw std::runtime_error("EVP_Digest failed");
    std::string out;
    char hex[3];
    for (unsigned int i = 0; i < n; ++i) {
        std::snprintf(hex, sizeof hex, "%02x", digest[i]);
        out += hex;
    }
    return out;
}

const std::array<std::string, 4>& script_shas() {
    static const std::array<std::string, 4> shas = {
        hex_digest(EVP_sha1(), scripts[0]), hex_digest(EVP_sha1(), scripts[1]), hex_digest(EVP_sha1(), scripts[2]),
        hex_digest(EVP_sha1(), scripts[3])};
    return shas;
}

long long micros(clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); }

// Microseconds per unit, exactly enough for Lua's doubles (a token at 60M a minute is 1 us).
std::string interval_us(double per_minute) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", per_minute > 0 ? 60e6 / per_minute : 0.0);
    return text;
}

std::string number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

}  // namespace

std::string limit_fingerprint(const std::string& base_url, const std::string& api_key, const std::string& workspace) {
    return hex_digest(EVP_sha256(), base_url + '\n' + api_key + '\n' + workspace).substr(0, 32);
}

redis_store::redis_store(asio::any_io_executor ex, const rate_limits& limits, std::string key, const tls_options& tls)
    : executor_(std::move(ex)), limits_(limits), key_(std::move(key)) {
    if (auto error = parse_redis_url(limits.redis, address_); !error.empty()) throw std::invalid_argument(error);
    if (address_.tls) tls_ = http::make_client_tls_context(tls);
    connection_ = std::make_shared<redis_connection>(executor_, address_, limits.redis_timeout, tls_.get());
}

std::string redis_store::hash_key(const std::string& model) const { return "llmstream:limits:" + key_ + ":" + model; }

void redis_store::mark(const std::string& failure) {
    if (failure.empty()) {
        outage_noted_ = false;  // an outage, if there was one, is over
        return;
    }
    down_until_ = clock::now() + std::chrono::seconds(1);
    failure_ = failure;
}

std::string redis_store::take_outage_note() {
    if (outage_noted_) return {};
    outage_noted_ = true;
    return "Redis at " + address_.shown() + " " + failure_ + ": admitted by this process's own limits (divided by "
           "limits.expected_instances) until Redis answers again";
}

asio::awaitable<bool> redis_store::eval(int script, std::vector<std::string> keys_and_args, redis_reply& reply) {
    std::vector<std::string> argv = {"EVALSHA", script_shas()[script], "1"};
    argv.insert(argv.end(), keys_and_args.begin(), keys_and_args.end());
    auto ec = co_await connection_->call(argv, reply);
    if (!ec && reply.type == redis_reply::kind::error && reply.str.rfind("NOSCRIPT", 0) == 0) {
        argv[0] = "EVAL";
        argv[1] = scripts[script];
        ec = co_await connection_->call(argv, reply);
    }
    const bool ok = !ec && reply.type != redis_reply::kind::error;
    mark(ok ? std::string() : describe_failure(ec, reply));
    co_return ok;
}

void redis_store::fire(int script, std::vector<std::string> keys_and_args) {
    asio::co_spawn(
        executor_,
        [](std::shared_ptr<redis_store> self, int id, std::vector<std::string> args) -> asio::awaitable<void> {
            redis_reply ignored;
            co_await self->eval(id, std::move(args), ignored);
        }(shared_from_this(), script, std::move(keys_and_args)),
        asio::detached);
}

asio::awaitable<redis_store::verdict> redis_store::admit(const std::string& model, std::uint64_t tokens) {
    verdict v;
    redis_reply reply;
    std::vector<std::string> args = {hash_key(model),
                                     interval_us(static_cast<double>(limits_.requests_per_minute)),
                                     std::to_string(micros(limits_.burst)),
                                     std::to_string(tokens),
                                     interval_us(static_cast<double>(limits_.tokens_per_minute)),
                                     limits_.adaptive ? "1" : "0",
                                     std::to_string(std::max<std::uint64_t>(1, limits_.adaptive_start_rpm))};
    const bool ok = co_await eval(admit_id, std::move(args), reply);
    if (!ok) co_return v;
    if (reply.type != redis_reply::kind::array || reply.elements.size() != 3) {
        mark("answered the admission script with an unexpected reply");
        co_return v;
    }
    v.answered = true;
    v.admitted = reply.elements[0].integer == 1;
    v.wait = std::chrono::microseconds(std::max(0LL, reply.elements[1].integer));
    switch (reply.elements[2].integer) {
    case 1: v.waiting_for = blocker::cooldown; break;
    case 3: v.waiting_for = blocker::requests; break;
    case 4: v.waiting_for = blocker::tokens; break;
    default: break;
    }
    co_return v;
}

void redis_store::give_back(const std::string& model, int requests, double tokens) {
    if (limits_.tokens_per_minute == 0) tokens = 0;
    if (requests == 0 && tokens == 0) return;
    fire(give_back_id, {hash_key(model), std::to_string(requests),
                        interval_us(static_cast<double>(limits_.requests_per_minute)), number(tokens),
                        interval_us(static_cast<double>(limits_.tokens_per_minute))});
}

void redis_store::throttled(const std::string& model, clock::duration cooldown) {
    fire(throttle_id, {hash_key(model), std::to_string(micros(cooldown)), limits_.adaptive ? "1" : "0",
                       std::to_string(std::max<std::uint64_t>(1, limits_.adaptive_start_rpm))});
}

void redis_store::succeeded(const std::string& model) {
    if (!limits_.adaptive) return;
    const double ceiling = limits_.requests_per_minute > 0 ? static_cast<double>(limits_.requests_per_minute) : governor::ceiling_rpm;
    fire(success_id, {hash_key(model), std::to_string(std::max<std::uint64_t>(1, limits_.adaptive_start_rpm)),
                      std::to_string(static_cast<long long>(ceiling))});
}

}  // namespace llmstream::limits
