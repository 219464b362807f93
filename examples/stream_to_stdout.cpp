// Streams one reply to stdout.
//   stream_to_stdout [prompt]
// Uses the first API key found: DASHSCOPE_API_KEY (DashScope compatible mode; region from
// LLMSTREAM_DASHSCOPE_REGION = cn|intl|us|finance|hongkong, default intl), OPENAI_API_KEY,
// DEEPSEEK_API_KEY. With none set, it starts an embedded llmstream-mock and streams from that.
// LLMSTREAM_MODEL overrides the model. Exit code: 0 on success, 1 on failure (diagnostics on stderr).
#include "mock/mock_server.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <optional>

namespace asio = boost::asio;
using llmstream::providers::key_from_env;

int main(int argc, char** argv) {
    const std::string prompt = argc > 1 ? argv[1] : "Who are you?";
    asio::io_context io(1);
    std::optional<llmstream::mock::server> mock;
    llmstream::client_config config;
    std::string model;

    if (auto key = key_from_env("DASHSCOPE_API_KEY"); !key.empty()) {
        using llmstream::providers::region;
        const std::string r = key_from_env("LLMSTREAM_DASHSCOPE_REGION");
        const region reg = r == "cn" ? region::cn : r == "us" ? region::us : r == "finance" ? region::finance
                         : r == "hongkong" ? region::hongkong : region::intl;
        config = llmstream::providers::dashscope_compatible(reg, key);
        model = "qwen-plus";
    } else if (key = key_from_env("OPENAI_API_KEY"); !key.empty()) {
        config = llmstream::providers::openai(key);
        model = "gpt-4o-mini";
    } else if (key = key_from_env("DEEPSEEK_API_KEY"); !key.empty()) {
        config = llmstream::providers::deepseek(key);
        model = "deepseek-chat";
    } else {
        mock.emplace(io.get_executor());
        mock->start();
        config = llmstream::providers::custom("http://127.0.0.1:" + std::to_string(mock->port()) + "/v1", "mock-key");
        model = "mock?demo=1&tokens=38&pace_ms=40";
        std::cerr << "(no API key set: streaming from an embedded llmstream-mock)\n";
    }
    if (auto m = key_from_env("LLMSTREAM_MODEL"); !m.empty()) model = m;

    llmstream::client client(io.get_executor(), config);
    int exit_code = 1;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        llmstream::chat_request req{.model = model, .messages = {{"user", prompt}}};
        auto s = client.chat_stream(std::move(req));
        for (;;) {
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            if (ec) {
                std::cerr << "\nllmstream: " << s.diagnostics().to_string(ec) << '\n';
                break;
            }
            if (!d) {
                exit_code = 0;
                break;
            }
            std::cout << d->content << std::flush;
        }
        std::cout << '\n';
        if (mock) mock->stop();
    }, asio::detached);
    io.run();
    return exit_code;
}
