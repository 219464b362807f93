// SSE framing cost: MB/s on 1 MiB data lines and ns/event on typical ~250-byte LLM chunk events.
// Run: build/benchmarks/llmstream-sse-benchmark --benchmark_format=json
#include <llmstream/sse.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace {

std::string large_lines_stream(std::size_t lines, std::size_t line_size) {
    std::string s;
    for (std::size_t i = 0; i < lines; ++i) {
        s += "data: ";
        for (std::size_t j = 0; j < line_size; ++j) s += static_cast<char>('a' + (i + j) % 26);
        s += "\n\n";
    }
    return s;
}

// An OpenAI-style chunk of about 250 bytes, as a streaming chat completion sends it.
std::string llm_events_stream(std::size_t events) {
    std::string s;
    for (std::size_t i = 0; i < events; ++i) {
        s += "data: {\"id\":\"chatcmpl-9f3c2a71b8e64d2c\",\"object\":\"chat.completion.chunk\","
             "\"created\":1732000000,\"model\":\"qwen-plus\",\"system_fingerprint\":null,\"choices\":"
             "[{\"index\":0,\"delta\":{\"content\":\" token";
        s += std::to_string(i % 1000);
        s += "\",\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    }
    return s;
}

void feed_in_pieces(llmstream::sse::parser& p, const std::string& stream, std::size_t piece,
                    std::size_t& events, std::size_t& bytes) {
    for (std::size_t off = 0; off < stream.size(); off += piece) {
        const auto n = std::min(piece, stream.size() - off);
        auto ec = p.feed(std::string_view(stream).substr(off, n), [&](const llmstream::sse::event& e) {
            ++events;
            bytes += e.data.size();
        });
        if (ec) throw std::runtime_error(ec.message());
    }
}

void BM_sse_1MiB_data_lines(benchmark::State& state) {
    const std::string stream = large_lines_stream(8, 1024 * 1024);
    const auto piece = static_cast<std::size_t>(state.range(0));
    llmstream::sse::parser p;
    std::size_t events = 0, bytes = 0;
    for (auto _ : state) {
        feed_in_pieces(p, stream, piece, events, bytes);
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_sse_1MiB_data_lines)->Arg(16 * 1024)->Arg(256 * 1024)->Arg(16 * 1024 * 1024)->Unit(benchmark::kMicrosecond);

void BM_sse_llm_chunk_events(benchmark::State& state) {
    constexpr std::size_t events_per_pass = 4096;
    const std::string stream = llm_events_stream(events_per_pass);
    const auto piece = static_cast<std::size_t>(state.range(0));
    llmstream::sse::parser p;
    std::size_t events = 0, bytes = 0;
    for (auto _ : state) {
        feed_in_pieces(p, stream, piece, events, bytes);
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
    state.counters["event_bytes"] = static_cast<double>(stream.size()) / events_per_pass;
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events_per_pass));
    // Inverse rate: seconds per event (console shows it with an SI prefix, e.g. "95n").
    state.counters["seconds_per_event"] = benchmark::Counter(
        static_cast<double>(events_per_pass),
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_sse_llm_chunk_events)->Arg(4096)->Arg(64 * 1024)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
