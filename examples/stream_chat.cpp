// stream_chat: ask one question and print the answer token by token as it arrives.
//   stream_chat [--provider openai|deepseek|dashscope|dashscope-intl|dashscope-finance] [--model NAME] ["prompt"]
// The endpoint comes from the flags or the environment (examples/common/endpoint.hpp); without a
// key the reply comes from an embedded llmstream-mock. Exit code 0 on success, 1 on failure.
#include "common/endpoint.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>

#include <chrono>
#include <cstdio>

namespace asio = boost::asio;

int main(int argc, char** argv) {
    std::string prompt = "Who are you?", provider, model;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--provider" && i + 1 < argc) provider = argv[++i];
        else if (a == "--model" && i + 1 < argc) model = argv[++i];
        else prompt = a;
    }
    asio::io_context io(1);  // one thread: the hint lets Asio skip locking
    example::endpoint ep;
    try {
        ep = example::pick(io, "mock?demo=1&tokens=38&pace_ms=60", llmstream::api_dialect::openai_compatible, provider);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stream_chat: %s\n", e.what());
        return 1;
    }
    if (!model.empty()) ep.model = model;
    llmstream::client client(io.get_executor(), ep.config);
    int exit_code = 1;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        std::chrono::steady_clock::duration first_token{};
        int deltas = 0;
        auto s = client.chat_stream({.model = ep.model, .messages = {{"user", prompt}}});
        for (;;) {
            // as_tuple: errors come back as values instead of exceptions.
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            if (ec) {
                std::fprintf(stderr, "\nfailed: %s\n", s.diagnostics().to_string(ec).c_str());
                break;
            }
            if (!d) {  // nullptr: the reply is complete
                const auto total = std::chrono::steady_clock::now() - start;
                std::fprintf(stderr, "\n(%d deltas in %.2f s, first token after %lld ms, %d attempt%s)\n", deltas,
                             std::chrono::duration<double>(total).count(),
                             static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(first_token).count()),
                             s.diagnostics().attempts, s.diagnostics().attempts == 1 ? "" : "s");
                exit_code = 0;
                break;
            }
            if (d->content.empty()) continue;  // role, usage or finish only
            if (deltas++ == 0) first_token = std::chrono::steady_clock::now() - start;
            std::fwrite(d->content.data(), 1, d->content.size(), stdout);  // d is valid until the next async_next
            std::fflush(stdout);
        }
        std::fputc('\n', stdout);
        if (ep.mock) ep.mock->stop();  // lets io.run() return
    }, asio::detached);
    io.run();
    return exit_code;
}
