// `llmstream-bench relay --url http://HOST:PORT --clients N [--model M] [--gateway-pid PID]`
// Browsers for llmstream-gateway: N event streams held open at once on one thread (raw sockets,
// HTTP/1.1, chunked SSE de-framed by hand). With an upstream model that stamps its tokens
// (`mock?stamp=1`: each token is "t<steady clock ns>" when llmstream-mock wrote it), every relayed
// token's latency from the upstream write to the browser-side read is measured. With
// --gateway-pid, the gateway process's CPU time and peak RSS over the run are read from /proc.
// Prints {"clients_ok","clients_failed","events","wall_s","latency_ms_p50","latency_ms_p99",
// "latency_ms_max","gateway_cpu_s","gateway_cpu_ns_per_event","gateway_peak_rss_mb"}.
#include "commands.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace llmstream::bench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr auto tuple = asio::as_tuple(asio::deferred);

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// A process's user + system CPU seconds (/proc/PID/stat), or -1.
double process_cpu_seconds(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stod(field);
        if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// VmHWM of a process, in MB, or -1.
double process_peak_rss_mb(long pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return -1;
}

}  // namespace

int relay_command(const std::vector<std::string>& args) {
    std::string url, model = "mock?stamp=1&tokens=20&pace_ms=200";
    long clients = 1000, gateway_pid = 0;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const bool has = i + 1 < args.size();
        if (args[i] == "--url" && has) url = args[++i];
        else if (args[i] == "--clients" && has) clients = std::strtol(args[++i].c_str(), nullptr, 10);
        else if (args[i] == "--model" && has) model = args[++i];
        else if (args[i] == "--gateway-pid" && has) gateway_pid = std::strtol(args[++i].c_str(), nullptr, 10);
        else return usage_error("relay: unknown or incomplete argument: " + args[i]);
    }
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0 || clients < 1) return usage_error("relay needs --url http://HOST:PORT and --clients N");
    const std::string hostport = url.substr(scheme.size());
    const auto colon = hostport.rfind(':');
    if (colon == std::string::npos) return usage_error("relay: --url needs a port");
    const std::string host = hostport.substr(0, colon);
    const auto port = static_cast<unsigned short>(std::atoi(hostport.c_str() + colon + 1));

    std::string encoded;
    for (unsigned char c : model) {
        static constexpr char hex[] = "0123456789ABCDEF";
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.') encoded += static_cast<char>(c);
        else (encoded += '%') += std::string{hex[c >> 4], hex[c & 15]};
    }
    const std::string request =
        "GET /v1/stream?prompt=hi&model=" + encoded + " HTTP/1.1\r\nHost: " + hostport + "\r\nAccept: text/event-stream\r\n\r\n";

    asio::io_context io(1);
    long ok = 0, failed = 0;
    std::size_t events = 0;
    std::vector<double> latency_ms;
    latency_ms.reserve(static_cast<std::size_t>(clients) * 20);
    auto browser = [&]() -> asio::awaitable<void> {
        tcp::socket socket(io);
        auto [cec] = co_await socket.async_connect({asio::ip::make_address(host), port}, tuple);
        if (cec) {
            ++failed;
            co_return;
        }
        co_await asio::async_write(socket, asio::buffer(request), tuple);
        std::string raw;
        std::size_t scan = 0;
        bool done = false, errored = false;
        char buf[8192];
        for (;;) {
            auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), tuple);
            if (ec) break;
            const std::int64_t arrived = now_ns();
            raw.append(buf, n);
            // Each delta's content holds " t<ns>" stamps (chunk framing never splits inside an
            // event the gateway wrote in one chunk, and the stamps are found as they come).
            std::size_t at;
            while ((at = raw.find("\"content\":\"", scan)) != std::string::npos) {
                const auto end = raw.find('"', at + 11);
                if (end == std::string::npos) break;
                const std::string_view text(raw.data() + at + 11, end - at - 11);
                std::size_t t = 0;
                while ((t = text.find('t', t)) != std::string_view::npos) {
                    const std::int64_t stamp = std::strtoll(text.data() + t + 1, nullptr, 10);
                    if (stamp > 0) latency_ms.push_back(static_cast<double>(arrived - stamp) / 1e6);
                    ++t;
                }
                ++events;
                scan = end + 1;
            }
            const std::size_t fresh = raw.size() > n + 16 ? raw.size() - n - 16 : 0;  // what this read added
            if (raw.find("event: done", fresh) != std::string::npos) done = true;
            if (raw.find("event: error", fresh) != std::string::npos) errored = true;
            if (done || errored) break;
            if (scan > 65536) {  // keep the buffer small: drop what was read
                raw.erase(0, scan);
                scan = 0;
            }
        }
        (done && !errored ? ok : failed)++;
    };

    const double cpu0 = gateway_pid ? process_cpu_seconds(gateway_pid) : 0;
    const auto wall0 = std::chrono::steady_clock::now();
    for (long i = 0; i < clients; ++i) asio::co_spawn(io, browser(), asio::detached);
    io.run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    const double gateway_cpu = gateway_pid ? process_cpu_seconds(gateway_pid) - cpu0 : -1;

    std::sort(latency_ms.begin(), latency_ms.end());
    auto pct = [&](double p) {
        if (latency_ms.empty()) return 0.0;
        return latency_ms[std::min(latency_ms.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latency_ms.size() - 1) + 0.5))];
    };
    std::printf(
        "{\"clients_ok\":%ld,\"clients_failed\":%ld,\"events\":%zu,\"wall_s\":%.3f,\"latency_ms_p50\":%.3f,"
        "\"latency_ms_p99\":%.3f,\"latency_ms_max\":%.3f,\"gateway_cpu_s\":%.3f,\"gateway_cpu_ns_per_event\":%.1f,"
        "\"gateway_peak_rss_mb\":%.1f}\n",
        ok, failed, events, wall, pct(0.5), pct(0.99), latency_ms.empty() ? 0.0 : latency_ms.back(), gateway_cpu,
        gateway_pid && events ? gateway_cpu * 1e9 / static_cast<double>(events) : -1.0,
        gateway_pid ? process_peak_rss_mb(gateway_pid) : -1.0);
    return failed == 0 ? 0 : 1;
}

}  // namespace llmstream::bench
