// llmstream-gateway: browsers in, provider tokens out as Server-Sent Events (see gateway.hpp).
//
//   llmstream-gateway [--port 8080] [--host 127.0.0.1] [--threads N]
//                     [--provider openai|deepseek|dashscope|dashscope-intl|dashscope-us | --base-url URL]
//                     [--dialect openai|dashscope] [--model M] [--api-key K] [--max-streams N]
//                     [--http auto|1.1|2]
//
// With no key and no base URL it starts an embedded llmstream-mock, as the demo does. The key
// comes from --api-key or the provider's variable (OPENAI_API_KEY, DEEPSEEK_API_KEY,
// DASHSCOPE_API_KEY) and is never printed. --threads N runs N io_contexts, each with its own
// client and server on the same port (SO_REUSEPORT), sharing nothing but the metrics.
// Prints "llmstream-gateway listening on http://HOST:PORT" once ready; stops on SIGINT/SIGTERM.
#include "gateway.hpp"

#include <llmstream/mock/server.hpp>

#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>
#include <vector>

namespace {

int usage(const char* why) {
    std::cerr << "llmstream-gateway: " << why << "\n"
              << "usage: llmstream-gateway [--port P] [--host H] [--threads N] [--provider NAME | --base-url URL]\n"
                 "                         [--dialect openai|dashscope] [--model M] [--api-key K] [--max-streams N]\n"
                 "                         [--http auto|1.1|2]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace llmstream::providers;
    gateway::options opts;
    opts.port = 8080;
    std::string provider, base_url, api_key, model;
    llmstream::api_dialect dialect = llmstream::api_dialect::openai_compatible;
    int threads = 1;
    llmstream::http_version http = llmstream::http_version::automatic;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has = i + 1 < argc;
        if (a == "--port" && has) opts.port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (a == "--host" && has) opts.host = argv[++i];
        else if (a == "--threads" && has) threads = std::max(1, std::atoi(argv[++i]));
        else if (a == "--provider" && has) provider = argv[++i];
        else if (a == "--base-url" && has) base_url = argv[++i];
        else if (a == "--api-key" && has) api_key = argv[++i];
        else if (a == "--model" && has) model = argv[++i];
        else if (a == "--max-streams" && has) opts.max_streams = std::strtoul(argv[++i], nullptr, 10);
        else if (a == "--http" && has) {
            const std::string v = argv[++i];
            if (v == "auto") http = llmstream::http_version::automatic;
            else if (v == "1.1") http = llmstream::http_version::http1;
            else if (v == "2") http = llmstream::http_version::http2;
            else return usage("--http must be auto, 1.1 or 2");
        }
        else if (a == "--dialect" && has) {
            const std::string d = argv[++i];
            if (d == "openai") dialect = llmstream::api_dialect::openai_compatible;
            else if (d == "dashscope") dialect = llmstream::api_dialect::dashscope_native;
            else return usage("--dialect must be openai or dashscope");
        } else {
            return usage(("unknown or incomplete argument: " + a).c_str());
        }
    }

    // Where the generations go: a provider, a base URL, or the embedded mock.
    llmstream::client_config upstream;
    const char* key_variable = provider == "openai"                  ? "OPENAI_API_KEY"
                               : provider == "deepseek"              ? "DEEPSEEK_API_KEY"
                               : provider.rfind("dashscope", 0) == 0 ? "DASHSCOPE_API_KEY"
                                                                     : "LLMSTREAM_API_KEY";
    if (api_key.empty()) api_key = key_from_env(key_variable);
    std::unique_ptr<boost::asio::io_context> mock_io;
    std::unique_ptr<llmstream::mock::server> mock;
    std::thread mock_thread;
    try {
        if (!base_url.empty()) {
            upstream = custom(base_url, api_key, dialect);
        } else if (provider == "openai") {
            upstream = openai(api_key);
        } else if (provider == "deepseek") {
            upstream = deepseek(api_key);
        } else if (provider.rfind("dashscope", 0) == 0) {
            const region r = provider == "dashscope" ? region::cn : provider == "dashscope-us" ? region::us : region::intl;
            upstream = dialect == llmstream::api_dialect::dashscope_native ? dashscope_native(r, api_key)
                                                                          : dashscope_compatible(r, api_key);
        } else if (!provider.empty()) {
            return usage(("unknown provider " + provider).c_str());
        } else {
            mock_io = std::make_unique<boost::asio::io_context>();
            mock = std::make_unique<llmstream::mock::server>(mock_io->get_executor());
            mock->start();
            mock_thread = std::thread([&] { mock_io->run(); });
            upstream = custom("http://127.0.0.1:" + std::to_string(mock->port()) + "/v1", "mock-key", dialect);
            if (model.empty()) model = "mock?demo=1&tokens=38&pace_ms=40";
            std::cerr << "(no API key or base URL: relaying an embedded llmstream-mock)\n";
        }
    } catch (const std::exception& e) {
        std::cerr << "llmstream-gateway: " << e.what() << '\n';
        return 2;
    }
    if (!model.empty()) opts.model = model;

    auto metrics = std::make_shared<llmstream::metrics>();
    auto counters = std::make_shared<gateway::counters>();
    upstream.observer = metrics;
    upstream.http = http;
    // Every browser stream is an upstream stream: the pool must not be what limits them.
    upstream.pool.max_connections = std::max<std::size_t>(upstream.pool.max_connections, opts.max_streams);
    opts.reuse_port = threads > 1;

    struct worker {
        boost::asio::io_context io{1};
        std::unique_ptr<llmstream::client> client;
        std::unique_ptr<gateway::server> server;
    };
    std::vector<std::unique_ptr<worker>> workers;
    try {
        for (int i = 0; i < threads; ++i) {
            auto w = std::make_unique<worker>();
            w->client = std::make_unique<llmstream::client>(w->io.get_executor(), upstream);
            w->server = std::make_unique<gateway::server>(w->io, *w->client, opts, metrics, counters);
            w->server->start();
            opts.port = w->server->port();  // the other threads join the port the first one got
            workers.push_back(std::move(w));
        }
    } catch (const std::exception& e) {
        std::cerr << "llmstream-gateway: cannot listen on " << opts.host << ":" << opts.port << ": " << e.what() << '\n';
        return 1;
    }
    std::cout << "llmstream-gateway listening on http://" << opts.host << ":" << opts.port << std::endl;

    boost::asio::signal_set signals(workers.front()->io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
        for (auto& w : workers) boost::asio::post(w->io, [&w] { w->server->stop(); w->io.stop(); });
    });
    std::vector<std::thread> others;
    for (std::size_t i = 1; i < workers.size(); ++i) others.emplace_back([&w = *workers[i]] { w.io.run(); });
    workers.front()->io.run();
    for (auto& t : others) t.join();
    if (mock) {
        mock->stop();
        mock_io->stop();
        mock_thread.join();
    }
    return 0;
}
