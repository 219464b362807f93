// `llmstream-bench parse FILE [--dialect openai|dashscope|anthropic|responses] [--decoder llmstream|simdjson]
//                        [--repeat N] [--warmup N]`
// Feeds a recorded text/event-stream body in 4 KiB pieces (as a socket would) through SSE
// framing and the dialect's decoder, N times, and prints one JSON object on stdout.
// --decoder simdjson keeps the SSE framing (the library's parser) and decodes each event with
// simdjson On-Demand instead (simdjson_anchor.hpp): the C++ anchor the decoder is measured against.
#include "commands.hpp"
#include "simdjson_anchor.hpp"

#include "protocol/response_stream.hpp"
#include "sse/parser_core.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::bench {

int parse_command(const std::vector<std::string>& args) {
    std::string file;
    api_dialect dialect = api_dialect::openai_compatible;
    bool use_simdjson = false;
    long repeat = 20;
    long warmup = -1;  // passes before timing; by default at least 3 and 200 ms
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--dialect" && i + 1 < args.size()) {
            const std::string& d = args[++i];
            if (d == "openai") dialect = api_dialect::openai_compatible;
            else if (d == "dashscope") dialect = api_dialect::dashscope_native;
            else if (d == "anthropic") dialect = api_dialect::anthropic_messages;
            else if (d == "responses") dialect = api_dialect::openai_responses;
            else return usage_error("--dialect must be openai, dashscope, anthropic or responses");
        } else if (args[i] == "--decoder" && i + 1 < args.size()) {
            const std::string& d = args[++i];
            if (d == "llmstream") use_simdjson = false;
            else if (d == "simdjson") use_simdjson = true;
            else return usage_error("--decoder must be llmstream or simdjson");
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

    const vendor v = dialect == api_dialect::dashscope_native     ? vendor::dashscope
                     : dialect == api_dialect::anthropic_messages ? vendor::anthropic
                                                                  : vendor::openai;
    protocol::response_stream stream(dialect, v);
    diagnostics diag;
    sse::detail::parser_core framing;  // --decoder simdjson: the same SSE parser as response_stream's
    simdjson_anchor anchor(dialect);
    delta anchor_delta;
    std::size_t events = 0, content_bytes = 0, reasoning_bytes = 0;
    // One pass of the library: the whole body in 4 KiB pieces. False (after printing why) on an error.
    auto llmstream_pass = [&](double& ns) {
        stream.reset();
        std::size_t content = 0, reasoning = 0;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t off = 0; off < body.size(); off += piece) {
            const auto ec = stream.feed(std::string_view(body).substr(off, piece),
                                        [&](const delta& d) {
                                            content += d.content.size();
                                            reasoning += d.reasoning_content.size();
                                        },
                                        diag);
            if (ec) {
                std::cerr << "llmstream-bench: " << file << ": " << diag.to_string(ec) << '\n';
                return false;
            }
        }
        ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        events = stream.events();
        content_bytes = content;
        reasoning_bytes = reasoning;
        return true;
    };
    // The same with simdjson On-Demand decoding each event the SSE parser hands out.
    auto simdjson_pass = [&](double& ns) {
        framing.reset();
        anchor.reset();
        std::size_t content = 0, reasoning = 0, n = 0;
        bool decoded = true;
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t off = 0; off < body.size() && decoded; off += piece) {
            const auto ec = framing.feed(std::string_view(body).substr(off, piece), [&](const sse::event& e) {
                if (!decoded) return;  // an error earlier in this piece ended the stream
                ++n;
                decoded = anchor.decode(e, anchor_delta);
                if (decoded && !anchor_delta.empty()) {
                    content += anchor_delta.content.size();
                    reasoning += anchor_delta.reasoning_content.size();
                }
            });
            if (ec) {
                std::cerr << "llmstream-bench: " << file << ": " << ec.message() << '\n';
                return false;
            }
        }
        if (!decoded) {
            std::cerr << "llmstream-bench: " << file << ": simdjson could not decode event " << n << '\n';
            return false;
        }
        ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        events = n;
        content_bytes = content;
        reasoning_bytes = reasoning;
        return true;
    };
    auto run_pass = [&](double& ns) { return use_simdjson ? simdjson_pass(ns) : llmstream_pass(ns); };
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
    std::cout << "{\"decoder\":\"" << (use_simdjson ? "simdjson" : "llmstream") << "\",\"events\":" << events
              << ",\"bytes\":" << body.size() << ",\"content_bytes\":" << content_bytes
              << ",\"reasoning_bytes\":" << reasoning_bytes << ",\"ns_per_event\":" << ns_per_event
              << ",\"mb_per_s\":" << mb_per_s;
    if (use_simdjson) std::cout << ",\"simdjson_kernels\":\"" << simdjson_anchor::kernels() << '"';
    std::cout << "}\n";
    return 0;
}

}  // namespace llmstream::bench
