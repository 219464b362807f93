// dashscope_native: DashScope's native text-generation API with a thinking model: the reasoning
// streams first (shown dimmed), then the answer.
//   dashscope_native ["your prompt"]
// With DASHSCOPE_API_KEY set it calls DashScope (LLMSTREAM_MODEL, default qwen-plus); otherwise
// an embedded llmstream-mock speaks the native dialect.
#include "common/endpoint.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>

#include <cstdio>

#include <unistd.h>

namespace asio = boost::asio;

int main(int argc, char** argv) {
    asio::io_context io(1);
    auto ep = example::pick(io, "mock?tokens=12&reasoning=8&pace_ms=20", llmstream::api_dialect::dashscope_native);
    llmstream::client client(io.get_executor(), ep.config);
    int exit_code = 1;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        llmstream::chat_request req{.model = ep.model,
                                    .messages = {{"user", argc > 1 ? argv[1] : "Why is the sky blue?"}}};
        req.extra = R"({"enable_thinking": true})";  // DashScope's own parameter, passed through untouched
        auto s = client.chat_stream(std::move(req));
        bool thinking = false;
        const bool tty = ::isatty(STDOUT_FILENO) == 1;  // dim the reasoning only on a terminal
        const char* dim = tty ? "\x1b[2m" : "";
        const char* plain = tty ? "\x1b[0m" : "";
        llmstream::completion_accumulator whole;  // the full answer too, as deltas arrive
        for (;;) {
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            if (ec) {
                std::fprintf(stderr, "\nfailed: %s\n", s.diagnostics().to_string(ec).c_str());
                break;
            }
            if (!d) {
                exit_code = 0;
                break;
            }
            whole.add(*d);
            if (!d->reasoning_content.empty()) {
                if (!thinking) std::printf("%s(thinking) ", dim);
                thinking = true;
                std::fputs(d->reasoning_content.c_str(), stdout);
            }
            if (!d->content.empty()) {
                if (thinking) std::printf("%s\n\n", plain);
                thinking = false;
                std::fputs(d->content.c_str(), stdout);
            }
            std::fflush(stdout);
        }
        if (thinking) std::fputs(plain, stdout);  // ended (or failed) while still reasoning
        std::fputc('\n', stdout);
        const auto& c = whole.result();
        std::fprintf(stderr, "(%zu bytes of reasoning, %zu bytes of answer, finish: %s, request id %s)\n",
                     c.reasoning_content.size(), c.content.size(), llmstream::to_string(c.finish),
                     s.diagnostics().request_id.c_str());
        if (ep.mock) ep.mock->stop();
    }, asio::detached);
    io.run();
    return exit_code;
}
