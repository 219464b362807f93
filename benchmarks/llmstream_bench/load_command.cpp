// `llmstream-bench load --base-url URL [--dialect openai|dashscope] --concurrency C --requests N
//                       [--model M] [--api-key K] [--http auto|1.1|2] [--ca-file PATH] [--batch]
//                       [--metrics] [--rpm N] [--tpm N] [--max-in-flight N] [--adaptive]
//                       [--expected-instances N] [--redis URL] [--limit-key K] [--retries N]
//                       [--prompt-bytes N] [--no-tls-resume] [--max-connecting N]`
// Streams N requests, C in flight, on ONE thread, and prints one JSON object:
// {"requests_ok","requests_failed","events","content_bytes","wall_s","cpu_s","cpu_ns_per_event",
//  "events_per_s","peak_rss_mb","ttft_ms_p50","ttft_ms_p99"}
// events = deltas handed to the caller; cpu_s = this process's user + system CPU time; ttft =
// time from starting a request to its first delta. all_streaming_rss_mb: the resident set when all
// of the first `concurrency` streams were streaming at once (-1: they never were), and
// all_streaming_heap_mb what malloc had handed out then (mallinfo2: the rest of the resident set
// is code, stacks and the allocator's free space). Extra field: streams_open_peak, the most
// streams that were between their first delta and their end at the same time; connections_peak,
// the most connections the client had open; tls_handshakes and tls_resumed, the TLS handshakes
// and of them those that resumed a session (--no-tls-resume turns resumption off; --max-connecting
// sets pool.max_connecting, connections opened at once, 0 for no limit); attempts, the
// requests sent, retries included;
// throttled, the 429s met (every attempt's); requests_per_s, requests that succeeded per second;
// admission_wait_ms_p50/p99, how long the client's own rate limits (--rpm, --tpm, --max-in-flight,
// --adaptive: client_config::limits; shared by every process with --redis) held requests back. --retries sets retry_policy::max_retries. --prompt-bytes sends a user message of N bytes instead of a short one. --batch reads with async_next_batch (every ready delta
// per completion) instead of async_next. With --metrics, the
// run's llmstream::metrics (Prometheus text) goes to stderr after the JSON (stdout stays one object).
#include "commands.hpp"

#include <llmstream/client.hpp>
#include <llmstream/metrics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace llmstream::bench {
namespace {

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// The resident set now (peak_rss_mb is the most it ever was).
double current_rss_mb() {
    long pages = 0, resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// What malloc has handed out and not had back, now: the resident set less the allocator's free
// space and fragmentation (and less code, stacks and other mappings).
double heap_in_use_mb() {
    const struct mallinfo2 m = mallinfo2();
    return static_cast<double>(m.uordblks + m.hblkhd) / (1024.0 * 1024.0);
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

}  // namespace

int load_command(const std::vector<std::string>& args) {
    std::string base_url, model = "mock?tokens=64", api_key = "bench-key";
    api_dialect dialect = api_dialect::openai_compatible;
    long concurrency = 64, requests = 1000;
    bool with_metrics = false;
    bool batch = false;
    bool tls_resume = true;
    http_version http = http_version::automatic;
    std::string ca_file;
    rate_limits limits;
    long retries = -1;
    long prompt_bytes = 0;
    long max_connecting = -1;  // -1: the client's default
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const bool has_value = i + 1 < args.size();
        if (a == "--base-url" && has_value) base_url = args[++i];
        else if (a == "--model" && has_value) model = args[++i];
        else if (a == "--api-key" && has_value) api_key = args[++i];
        else if (a == "--concurrency" && has_value) concurrency = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (a == "--requests" && has_value) requests = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (a == "--metrics") with_metrics = true;
        else if (a == "--batch") batch = true;
        else if (a == "--prompt-bytes" && has_value) prompt_bytes = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (a == "--ca-file" && has_value) ca_file = args[++i];
        else if (a == "--no-tls-resume") tls_resume = false;
        else if (a == "--max-connecting" && has_value) max_connecting = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (a == "--rpm" && has_value) limits.requests_per_minute = std::strtoull(args[++i].c_str(), nullptr, 10);
        else if (a == "--tpm" && has_value) limits.tokens_per_minute = std::strtoull(args[++i].c_str(), nullptr, 10);
        else if (a == "--max-in-flight" && has_value) limits.max_in_flight = std::strtoull(args[++i].c_str(), nullptr, 10);
        else if (a == "--adaptive") limits.adaptive = true;
        else if (a == "--expected-instances" && has_value)
            limits.expected_instances = static_cast<std::uint32_t>(std::strtoul(args[++i].c_str(), nullptr, 10));
        else if (a == "--redis" && has_value) limits.redis = args[++i];
        else if (a == "--limit-key" && has_value) limits.key = args[++i];
        else if (a == "--retries" && has_value) retries = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (a == "--http" && has_value) {
            const std::string& v = args[++i];
            if (v == "auto") http = http_version::automatic;
            else if (v == "1.1") http = http_version::http1;
            else if (v == "2") http = http_version::http2;
            else return usage_error("--http must be auto, 1.1 or 2");
        }
        else if (a == "--dialect" && has_value) {
            const std::string& d = args[++i];
            if (d == "openai") dialect = api_dialect::openai_compatible;
            else if (d == "dashscope") dialect = api_dialect::dashscope_native;
            else return usage_error("--dialect must be openai or dashscope");
        } else {
            return usage_error("unknown or incomplete argument: " + a);
        }
    }
    if (base_url.empty()) return usage_error("load needs --base-url");
    if (concurrency < 1 || requests < 1) return usage_error("--concurrency and --requests must be positive");
    if (max_connecting < -1) return usage_error("--max-connecting must be 0 (no limit) or more");

    boost::asio::io_context io(1);
    client_config cfg = providers::custom(base_url, api_key, dialect);
    cfg.pool.max_connections = static_cast<std::size_t>(concurrency);
    cfg.pool.max_waiting = static_cast<std::size_t>(requests);
    cfg.timeouts.first_byte = std::chrono::minutes(5);
    cfg.http = http;
    cfg.tls.resume_sessions = tls_resume;
    if (max_connecting >= 0) cfg.pool.max_connecting = static_cast<std::size_t>(max_connecting);
    if (!ca_file.empty()) cfg.tls.ca_file = ca_file;
    cfg.limits = limits;
    if (retries >= 0) cfg.retry.max_retries = static_cast<int>(retries);
    std::shared_ptr<metrics> collected;
    if (with_metrics) cfg.observer = collected = std::make_shared<metrics>();
    std::unique_ptr<client> c;
    try {
        c = std::make_unique<client>(io.get_executor(), cfg);
    } catch (const std::exception& e) {
        std::cerr << "llmstream-bench: " << e.what() << '\n';
        return 2;
    }

    long started = 0, ok = 0, failed = 0;
    long streaming_now = 0, streaming_peak = 0;  // streams between their first delta and their end
    // The resident set when every stream of the first wave is streaming at once: connections and
    // streams as they stay, without the transient peak of their set-up (TLS handshakes).
    double all_streaming_rss_mb = -1, all_streaming_heap_mb = -1;
    const long wave = std::min(concurrency, requests);
    std::size_t connections_peak = 0;
    long attempts = 0;  // requests sent, retries included (transparent resends are not attempts)
    std::size_t events = 0, content_bytes = 0;
    std::vector<double> ttft_ms, admission_wait_ms;
    long throttled = 0;  // 429s met, by every attempt
    ttft_ms.reserve(static_cast<std::size_t>(requests));
    std::string first_error;

    // The user message: a short one, or --prompt-bytes of text (what a stream holds while it streams).
    const std::string prompt = prompt_bytes > 0 ? std::string(static_cast<std::size_t>(prompt_bytes), 'p') : "Say something.";
    // C workers, each running requests back to back until N have been started.
    auto worker = [&]() -> boost::asio::awaitable<void> {
        while (started < requests) {
            ++started;
            chat_request req;
            req.model = model;
            req.messages = {{"user", prompt}};
            const auto t0 = std::chrono::steady_clock::now();
            auto s = c->chat_stream(std::move(req));
            bool first = true;
            auto on_first = [&] {
                connections_peak = std::max(connections_peak, c->pool_stats().open);
                ttft_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
                first = false;
                streaming_peak = std::max(streaming_peak, ++streaming_now);
                if (streaming_now == wave && all_streaming_rss_mb < 0) {
                    all_streaming_rss_mb = current_rss_mb();
                    all_streaming_heap_mb = heap_in_use_mb();
                }
            };
            for (;;) {
                boost::system::error_code ec;
                bool end = false;
                if (batch) {
                    auto [bec, ready] = co_await s.async_next_batch(boost::asio::as_tuple(boost::asio::deferred));
                    ec = bec;
                    end = !ec && ready.empty();
                    if (!ec && !end) {
                        if (first) on_first();
                        for (const delta& d : ready) content_bytes += d.content.size();
                        events += ready.size();
                    }
                } else {
                    auto [dec, d] = co_await s.async_next(boost::asio::as_tuple(boost::asio::deferred));
                    ec = dec;
                    end = !ec && !d;
                    if (!ec && !end) {
                        if (first) on_first();
                        ++events;
                        content_bytes += d->content.size();
                    }
                }
                if (ec || end) {
                    const diagnostics& diag = s.diagnostics();
                    attempts += diag.attempts;
                    for (const attempt_record& a : diag.attempt_log) throttled += a.http_status == 429;
                    throttled += diag.http_status == 429;
                    admission_wait_ms.push_back(static_cast<double>(diag.admission_wait.count()));
                }
                if (ec) {
                    if (!first) --streaming_now;
                    ++failed;
                    if (first_error.empty()) first_error = s.diagnostics().to_string(ec);
                    break;
                }
                if (end) {
                    if (!first) --streaming_now;
                    ++ok;
                    break;
                }
            }
        }
    };

    const double cpu0 = cpu_seconds();
    const auto wall0 = std::chrono::steady_clock::now();
    for (long i = 0; i < std::min(concurrency, requests); ++i) boost::asio::co_spawn(io, worker(), boost::asio::detached);
    io.run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const double cpu = cpu_seconds() - cpu0;

    if (!first_error.empty()) std::cerr << "llmstream-bench: first failure: " << first_error << '\n';
    std::printf(
        "{\"requests_ok\":%ld,\"requests_failed\":%ld,\"events\":%zu,\"content_bytes\":%zu,\"wall_s\":%.3f,"
        "\"cpu_s\":%.3f,\"cpu_ns_per_event\":%.1f,\"events_per_s\":%.1f,\"peak_rss_mb\":%.1f,\"ttft_ms_p50\":%.2f,"
        "\"ttft_ms_p99\":%.2f,\"streams_open_peak\":%ld,\"connections_peak\":%zu,\"attempts\":%ld,\"throttled\":%ld,"
        "\"requests_per_s\":%.1f,\"admission_wait_ms_p50\":%.1f,\"admission_wait_ms_p99\":%.1f,"
        "\"all_streaming_rss_mb\":%.1f,\"all_streaming_heap_mb\":%.1f,\"tls_handshakes\":%llu,\"tls_resumed\":%llu}\n",
        ok, failed, events, content_bytes, wall, cpu, events ? cpu * 1e9 / static_cast<double>(events) : 0.0,
        wall > 0 ? static_cast<double>(events) / wall : 0.0, peak_rss_mb(), percentile(ttft_ms, 0.5),
        percentile(ttft_ms, 0.99), streaming_peak, connections_peak, attempts, throttled,
        wall > 0 ? static_cast<double>(ok) / wall : 0.0, percentile(admission_wait_ms, 0.5),
        percentile(admission_wait_ms, 0.99), all_streaming_rss_mb, all_streaming_heap_mb,
        static_cast<unsigned long long>(c->pool_stats().tls_handshakes), static_cast<unsigned long long>(c->pool_stats().tls_resumed));
    if (collected) {
        std::fflush(stdout);
        collected->record_pool(c->pool_stats());
        std::cerr << collected->render();
    }
    return failed == 0 ? 0 : 1;
}

}  // namespace llmstream::bench
