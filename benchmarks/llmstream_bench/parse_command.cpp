// `llmstream-bench parse FILE [--dialect openai|dashscope] [--repeat N] [--warmup N]`
// Feeds a recorded text/event-stream body in 4 KiB pieces (as a socket would) through SSE
// framing and the dialect's decoder, N times, and prints one JSON object on stdout.
#include "commands.hpp"

#include "protocol/response_stream.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

namespace llmstream::bench {

int parse_command(const std::vector<std::string>& args) {
    std::string file;
    api_dialect dialect = api_dialect::openai_compatible;
    long repeat = 20;
    long warmup = -1;  // passes before timing; by default at least 3 and 200 ms
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--dialect" && i + 1 < args.size()) {
            const std::string& d = args[++i];
            if (d == "openai") dialect = api_dialect::openai_compatible;
            else if (d == "dashscope") dialect = api_dialect::dashscope_native;
            else return usage_error("--dialect must be openai or dashscope");
        } else if (args[i] == "--repeat" && i + 1 < args.size()) {
            repeat = std::strtol(args[++i].c_str(), nullptr, 10);
            if (repeat < 1 || repeat > 1000000) return usage_error("--repeat must be between 1 and 1000000");
        } else if (args[i] == "--warmup" && i + 1 < args.size()) {
            warmup = std::strtol(args[++i].c_str(), nullptr, 10);
            if (warmup < 0 || warmup > 1000000) return usage_error("--warmup must be between 0 and 1000000");
        } else if (file.empty() && args[i].rfind("--", 0) != 0) {
            file = args[i];
        } else {
            return usage_error("unknown argument: " + args[i]);
        }
    }
    if (file.empty()) return usage_error("parse needs a FILE");

    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::cerr << "llmstream-bench: cannot read " << file << '\n';
        return 2;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string body = ss.str();
    constexpr std::size_t piece = 4096;

    protocol::response_stream stream(dialect, dialect == api_dialect::dashscope_native ? vendor::dashscope : vendor::openai);
    diagnostics diag;
    std::size_t events = 0, content_bytes = 0;
    // One pass: the whole body in 4 KiB pieces. Returns false (after printing why) on an error.
    auto run_pass = [&](double& ns) {
        stream.reset();
        std::size_t content = 0;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t off = 0; off < body.size(); off += piece) {
            const auto ec = stream.feed(std::string_view(body).substr(off, piece),
                                        [&](const delta& d) { content += d.content.size(); }, diag);
            if (ec) {
                std::cerr << "llmstream-bench: " << file << ": " << diag.to_string(ec) << '\n';
                return false;
            }
        }
        ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        events = stream.events();
        content_bytes = content;
        return true;
    };
    // Warm-up (at least 3 passes and 200 ms, as the JavaScript peers get JIT warm-up): caches,
    // buffer page faults and the CPU clock settle before anything is timed.
    double ns = 0;
    const auto warm_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    // A fixed --warmup makes the number of passes exact (for instruction counts under valgrind).
    for (long i = 0; warmup >= 0 ? i < warmup : (i < 3 || std::chrono::steady_clock::now() < warm_until); ++i)
        if (!run_pass(ns)) return 1;
    std::vector<double> pass_ns;
    for (long r = 0; r < repeat; ++r) {
        if (!run_pass(ns)) return 1;
        pass_ns.push_back(ns);
    }
    std::sort(pass_ns.begin(), pass_ns.end());
    const double median = pass_ns[pass_ns.size() / 2];
    const double ns_per_event = events ? median / static_cast<double>(events) : 0.0;
    const double mb_per_s = static_cast<double>(body.size()) / (median / 1e9) / 1e6;
    std::cout << "{\"events\":" << events << ",\"bytes\":" << body.size() << ",\"content_bytes\":" << content_bytes
              << ",\"ns_per_event\":" << ns_per_event << ",\"mb_per_s\":" << mb_per_s << "}\n";
    return 0;
}

}  // namespace llmstream::bench
