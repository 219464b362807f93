// llmstream-soak: many requests against an in-process llmstream-mock with about 20% of them
// faulted across every fault kind, on one client and one thread. Checks that every successful
// stream's content is exact, that every failure has the right class and was retried per policy
// (attempt counts from both the client and the server), that nothing outlives its deadline, that
// the pool is back to idle after each round, and that memory stays flat across rounds. Then a
// rate-limited phase: --limited-requests requests of five models against a second mock that
// throttles past 1,200 requests a minute per model, from a client held to 1,100 a minute per model
// and 50 in flight: every one must end with its exact content (none lost to the limits), none
// past its deadline.
//
//   llmstream-soak [--requests N=100000] [--concurrency C=1000] [--rounds R=10] [--time-scale S=1]
//                  [--limited-requests L=600] [--http 1.1|2]
//
// --time-scale multiplies every timeout and scripted delay (sanitizer builds run slower). --http 2
// runs it all over HTTP/2 (h2c with prior knowledge: many streams per connection); the faults
// and what must come of them are the same.
//
// Prints one JSON object; exits 1 on any violation. The test suite runs a short version.
#include <llmstream/mock/server.hpp>

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace llmstream;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool under_asan = true;
#else
constexpr bool under_asan = false;
#endif
#else
constexpr bool under_asan = false;
#endif

long time_scale = 1;

std::string text_of(int tokens) {
    std::string s;
    for (int i = 0; i < tokens; ++i) s += (i ? " tok" : "tok") + std::to_string(i);
    return s;
}

// One kind of request: how to script it and what must come of it.
struct kind {
    const char* name;
    std::string (*model)(const std::string& key);
    error_code expected;   // empty: success
    int attempts;          // client-side attempts (the budget may cut always-failing ones short);
                           // negative: at most that many, at least 1
    int server_attempts;   // requests the server saw for the key (0: not counted)
    int content_tokens;    // exact content delivered, success or not
};

// The faults every protocol meets the same way.
const kind common_kinds[] = {
    {"retry_503", [](const std::string& k) { return "mock?tokens=5&fail_first=1&status=503&key=" + k; }, {}, 2, 2, 5},
    {"retry_429", [](const std::string& k) { return "mock?tokens=5&fail_first=1&status=429&code=rate_limit_exceeded&retry_after_ms=5&key=" + k; }, {}, 2, 2, 5},
    {"slow_headers", [](const std::string& k) { return "mock?tokens=5&fail_first=1&slow_headers_ms=" + std::to_string(10'000 * time_scale) + "&key=" + k; }, {}, 2, 2, 5},
    {"denied_403", [](const std::string& k) { return "mock?status=403&code=Model.AccessDenied&key=" + k; }, api_errc::permission_denied, 1, 1, 0},
    {"auth_401", [](const std::string& k) { return "mock?status=401&code=invalid_api_key&key=" + k; }, api_errc::authentication, 1, 1, 0},
    {"in_stream_500", [](const std::string& k) { return "mock?tokens=10&error_after=2&error_status=500&code=server_error&key=" + k; }, api_errc::server_error, 1, 1, 2},
    {"stall", [](const std::string& k) { return "mock?tokens=10&stall_after=2&key=" + k; }, errc::idle_timeout, 1, 1, 2},
    {"malformed", [](const std::string& k) { return "mock?tokens=10&malformed_after=2&key=" + k; }, errc::malformed_response, 1, 1, 2},
    {"bad_chunk", [](const std::string& k) { return "mock?raw=bad_chunk&key=" + k; }, errc::invalid_http_response, 1, 1, 0},
    {"always_503", [](const std::string& k) { return "mock?status=503&key=" + k; }, api_errc::overloaded, 3, 3, 0},
};

// HTTP/1.1: the mock drops the connection, which carries only this stream.
const kind http1_kinds[] = {
    // On a reused connection a reset before any byte looks exactly like a stale keep-alive
    // connection: replaced at once, not an attempt. So the client counts 1 or 2; the server 2.
    {"reset_before_headers", [](const std::string& k) { return "mock?tokens=5&fail_first=1&reset_before_headers=1&key=" + k; }, {}, -2, 2, 5},
    {"reset_after_3", [](const std::string& k) { return "mock?tokens=10&reset_after=3&key=" + k; }, errc::connection_closed, 1, 1, 3},
};

// HTTP/2: a dropped connection would take every stream on it along (the integration tests cover
// that), so the faults here are the stream's own: RST_STREAM.
const kind http2_kinds[] = {
    {"rst_internal_error", [](const std::string& k) { return "mock?tokens=5&fail_first=1&rst=2&key=" + k; }, {}, 2, 2, 5},
    // Never processed: sent again at once, not counted as an attempt.
    {"rst_refused_stream", [](const std::string& k) { return "mock?tokens=5&fail_first=1&rst=7&key=" + k; }, {}, 1, 2, 5},
};

std::vector<kind> kinds;  // the protocol's

constexpr int period = 60;  // 48 clean requests, then one of each fault kind: 20% faulted

double rss_mb() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

struct tally {
    long ok = 0;
    long failed_as_expected = 0;
    long violations = 0;
    long budget_cut = 0;  // always-failing requests the retry budget stopped early (allowed)
    long retries = 0;
    double max_request_s = 0;
    std::map<std::string, long> by_kind;
};

void violation(tally& t, const std::string& what) {
    if (++t.violations <= 20) std::cerr << "violation: " << what << '\n';
}

// Reads a stream to its end; the content it gave, and how it ended.
asio::awaitable<error_code> read_all(stream& s, std::string& content) {
    for (;;) {
        auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
        if (ec || !d) co_return ec;
        content += d->content;
    }
}

// The rate-limited phase's tally.
struct limited_tally {
    long ok = 0;
    long lost = 0;       // failed or wrong content
    long throttled = 0;  // 429s met (retried)
    double max_request_s = 0;
    long max_admission_wait_ms = 0;
};

asio::awaitable<void> limited_one(client& c, long index, limited_tally& t) {
    const int tokens = 2 + static_cast<int>(index % 5);
    chat_request req;
    req.model = "mock?tokens=" + std::to_string(tokens);
    req.messages = {{"user", "hi"}};
    const auto t0 = steady_clock::now();
    auto s = c.chat_stream(std::move(req));
    std::string content;
    const error_code ec = co_await read_all(s, content);
    t.max_request_s = std::max(t.max_request_s, std::chrono::duration<double>(steady_clock::now() - t0).count());
    const diagnostics& diag = s.diagnostics();
    t.max_admission_wait_ms = std::max<long>(t.max_admission_wait_ms, diag.admission_wait.count());
    for (const auto& a : diag.attempt_log) t.throttled += a.http_status == 429;
    if (!ec && content == text_of(tokens)) {
        ++t.ok;
    } else if (++t.lost <= 10) {
        std::cerr << "rate-limited phase: request " << index << " lost: " << diag.to_string(ec) << '\n';
    }
}

asio::awaitable<void> one(client& c, long index, int round, tally& t, std::vector<std::pair<std::string, int>>& keys) {
    const std::string key = "r" + std::to_string(round) + "i" + std::to_string(index);
    const long slot = index % period;
    const long first_fault = period - static_cast<long>(kinds.size());
    const kind* k = slot >= first_fault ? &kinds[static_cast<std::size_t>(slot - first_fault)] : nullptr;
    const int clean_tokens = 4 + static_cast<int>(index % 9);
    chat_request req;
    req.model = k ? k->model(key) : "mock?tokens=" + std::to_string(clean_tokens);
    req.messages = {{"user", "soak"}};
    const auto start = steady_clock::now();
    auto s = c.chat_stream(std::move(req));
    std::string content;
    const error_code ec = co_await read_all(s, content);
    const double seconds = std::chrono::duration<double>(steady_clock::now() - start).count();
    t.max_request_s = std::max(t.max_request_s, seconds);
    const auto& diag = s.diagnostics();
    t.retries += diag.attempts - 1;
    const std::string name = k ? k->name : "clean";
    ++t.by_kind[name];
    const error_code expected = k ? k->expected : error_code{};
    const std::string expected_content = text_of(k ? k->content_tokens : clean_tokens);
    if (ec != expected) {
        violation(t, name + ": expected '" + expected.message() + "', got '" + ec.message() + "' (" + diag.to_string(ec) + ")");
        co_return;
    }
    if (content != expected_content) violation(t, name + ": content '" + content + "'");
    const int attempts = k ? k->attempts : 1;
    const bool cut_by_budget = diag.retry_note.find("retry budget") != std::string::npos;
    const bool attempts_ok = attempts < 0 ? diag.attempts >= 1 && diag.attempts <= -attempts
                                          : diag.attempts == attempts || (cut_by_budget && diag.attempts < attempts);
    if (!attempts_ok)
        violation(t, name + ": " + std::to_string(diag.attempts) + " attempts, expected " + std::to_string(attempts));
    if (cut_by_budget) ++t.budget_cut;
    if (k && k->server_attempts > 0) keys.emplace_back(key, cut_by_budget ? diag.attempts : k->server_attempts);
    if (ec) ++t.failed_as_expected;
    else ++t.ok;
}

}  // namespace

int main(int argc, char** argv) {
    long requests = 100'000, concurrency = 1'000, rounds = 10, limited_requests = 600;
    http_version http = http_version::http1;
    bool usage = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const long v = std::atol(argv[i + 1]);
        if (a == "--http") {
            const std::string version = argv[i + 1];
            if (version != "1.1" && version != "2") usage = true;
            http = version == "2" ? http_version::http2 : http_version::http1;
        } else if (a == "--requests") requests = v;
        else if (a == "--concurrency") concurrency = v;
        else if (a == "--rounds") rounds = v;
        else if (a == "--time-scale") time_scale = std::max(1L, v);
        else if (a == "--limited-requests") limited_requests = std::max(0L, v);
        else usage = true;
    }
    if (usage) {
        std::cerr << "usage: llmstream-soak [--requests N] [--concurrency C] [--rounds R] [--time-scale S] "
                     "[--limited-requests L] [--http 1.1|2]\n";
        return 2;
    }
    rounds = std::max(1L, rounds);
    kinds.assign(std::begin(common_kinds), std::end(common_kinds));
    if (http == http_version::http2) kinds.insert(kinds.end(), std::begin(http2_kinds), std::end(http2_kinds));
    else kinds.insert(kinds.end(), std::begin(http1_kinds), std::end(http1_kinds));
    concurrency = std::max(1L, concurrency);

    asio::io_context server_io;
    auto work = asio::make_work_guard(server_io);
    mock::server server(server_io.get_executor());
    server.start();
    mock::options throttling;
    throttling.requests_per_minute = 1200;
    mock::server limited_server(server_io.get_executor(), throttling);
    limited_server.start();
    std::thread server_thread([&] { server_io.run(); });

    asio::io_context io(1);
    client_config cfg = providers::custom("http://127.0.0.1:" + std::to_string(server.port()) + "/v1", "soak-key");
    // Generous next to the mock's pace even with both processes' threads busy on a small
    // machine (a 1,000-stream round pushes first bytes past a second), tight next to the scripted
    // faults: slow headers (10 s) and stalls (forever).
    cfg.timeouts.connect = milliseconds(5'000 * time_scale);
    cfg.timeouts.first_byte = milliseconds(5'000 * time_scale);
    cfg.timeouts.idle = milliseconds(3'000 * time_scale);
    cfg.timeouts.total = milliseconds(30'000 * time_scale);
    cfg.retry.initial_backoff = milliseconds(5);
    cfg.retry.max_backoff = milliseconds(20);
    cfg.pool.max_connections = static_cast<std::size_t>(concurrency);
    cfg.http = http;
    client c(io.get_executor(), cfg);

    tally t;
    std::vector<double> rss;
    bool pool_leak = false;
    std::vector<std::pair<std::string, int>> keys;
    const auto start = steady_clock::now();
    const long per_round = std::max(1L, requests / rounds);
    for (long round = 0; round < rounds; ++round) {
        long next = 0;
        for (long w = 0; w < std::min(concurrency, per_round); ++w) {
            asio::co_spawn(io, [&]() -> asio::awaitable<void> {
                while (next < per_round) co_await one(c, next++, static_cast<int>(round), t, keys);
            }, asio::detached);
        }
        io.restart();
        io.run();
        const auto p = c.pool_stats();
        if (p.open != p.idle || p.waiting != 0) {
            pool_leak = true;
            std::cerr << "pool not idle after round " << round << ": open " << p.open << ", idle " << p.idle
                      << ", waiting " << p.waiting << '\n';
        }
        rss.push_back(rss_mb());
    }
    const double wall = std::chrono::duration<double>(steady_clock::now() - start).count();

    // The rate-limited phase.
    client_config limited_cfg = cfg;
    limited_cfg.base_url = "http://127.0.0.1:" + std::to_string(limited_server.port()) + "/v1";
    limited_cfg.limits.requests_per_minute = 1100;
    limited_cfg.limits.max_in_flight = 50;
    limited_cfg.limits.max_wait = milliseconds(30'000 * time_scale);
    limited_cfg.retry.max_retries = 5;
    limited_tally lt;
    {
        client limited(io.get_executor(), limited_cfg);
        long next = 0;
        for (long w = 0; w < std::min(200L, limited_requests); ++w) {
            asio::co_spawn(io, [&]() -> asio::awaitable<void> {
                while (next < limited_requests) co_await limited_one(limited, next++, lt);
            }, asio::detached);
        }
        io.restart();
        io.run();
    }
    const bool limited_ok = lt.ok == limited_requests && lt.lost == 0 &&
                            lt.max_request_s < 31.0 * static_cast<double>(time_scale);

    // The server's own count of attempts per faulted request.
    const auto seen = server.counters().attempts;
    const auto server_connections = server.counters().connections;
    long server_mismatch = 0;
    for (const auto& [key, expected] : keys) {
        const auto it = seen.find(key);
        const long got = it == seen.end() ? 0 : static_cast<long>(it->second);
        if (got != expected && ++server_mismatch <= 10)
            std::cerr << "server saw " << got << " attempts for " << key << ", expected " << expected << '\n';
    }
    server.stop();
    limited_server.stop();
    work.reset();
    server_thread.join();

    // Flat memory: compare the last round with the second (the first warms caches and pools).
    // Not under AddressSanitizer, whose quarantine keeps freed memory resident on purpose.
    const double growth = rss.size() >= 2 ? rss.back() - rss[std::min<std::size_t>(1, rss.size() - 1)] : 0.0;
    const bool memory_flat = under_asan || growth < 16.0;
    const bool deadline_ok = t.max_request_s < 31.0 * static_cast<double>(time_scale);
    const bool pass = t.violations == 0 && server_mismatch == 0 && !pool_leak && memory_flat && deadline_ok &&
                      t.ok + t.failed_as_expected == per_round * rounds && limited_ok;

    std::printf("{\"http\": \"%s\", \"requests\": %ld, \"concurrency\": %ld, \"rounds\": %ld, \"ok\": %ld, \"failed_as_expected\": %ld, "
                "\"violations\": %ld, \"server_attempt_mismatches\": %ld, \"retries\": %ld, \"budget_cut\": %ld, "
                "\"max_request_s\": %.3f, \"server_connections\": %llu, \"pool_idle_after_each_round\": %s, \"rss_mb_per_round\": [",
                http == http_version::http2 ? "2" : "1.1", per_round * rounds, concurrency, rounds, t.ok, t.failed_as_expected, t.violations, server_mismatch,
                t.retries, t.budget_cut, t.max_request_s, static_cast<unsigned long long>(server_connections),
                pool_leak ? "false" : "true");
    for (std::size_t i = 0; i < rss.size(); ++i) std::printf("%s%.1f", i ? ", " : "", rss[i]);
    std::printf("], \"rss_growth_mb\": %.1f, \"memory_check\": \"%s\", \"wall_s\": %.2f, \"by_kind\": {", growth,
                under_asan ? "skipped (AddressSanitizer quarantine)" : (memory_flat ? "flat" : "growing"), wall);
    bool first = true;
    for (const auto& [name, n] : t.by_kind) {
        std::printf("%s\"%s\": %ld", first ? "" : ", ", name.c_str(), n);
        first = false;
    }
    std::printf("}, \"rate_limited_phase\": {\"requests\": %ld, \"ok\": %ld, \"lost\": %ld, \"throttled\": %ld, "
                "\"max_request_s\": %.3f, \"max_admission_wait_ms\": %ld}, \"pass\": %s}\n",
                limited_requests, lt.ok, lt.lost, lt.throttled, lt.max_request_s, lt.max_admission_wait_ms,
                pass ? "true" : "false");
    return pass ? 0 : 1;
}
