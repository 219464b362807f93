// llmstream-mock: serves both API dialects on loopback until interrupted.
// Usage: llmstream-mock [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key PEM] [--rpm N [--rpm-burst-ms 1000]]
// --rpm: a provider's rate limit; requests past it get DashScope's throttle 429, without Retry-After.
// Prints "llmstream-mock listening on http://HOST:PORT" once ready.
#include <llmstream/mock/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
    llmstream::mock::options opts;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--host") && i + 1 < argc) opts.host = argv[++i];
        else if (!std::strcmp(argv[i], "--port") && i + 1 < argc) opts.port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--tls-cert") && i + 1 < argc) opts.tls_cert_file = argv[++i];
        else if (!std::strcmp(argv[i], "--tls-key") && i + 1 < argc) opts.tls_key_file = argv[++i];
        else if (!std::strcmp(argv[i], "--rpm") && i + 1 < argc) opts.requests_per_minute = static_cast<std::uint32_t>(std::atol(argv[++i]));
        else if (!std::strcmp(argv[i], "--rpm-burst-ms") && i + 1 < argc) opts.rate_burst_ms = static_cast<std::uint32_t>(std::atol(argv[++i]));
        else {
            std::cerr << "usage: llmstream-mock [--host 127.0.0.1] [--port 0] [--tls-cert PEM --tls-key PEM] [--rpm N [--rpm-burst-ms 1000]]\n";
            return 2;
        }
    }
    try {
        boost::asio::io_context io;
        llmstream::mock::server server(io.get_executor(), opts);
        server.start();
        boost::asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](auto, int) {
            server.stop();
            io.stop();
        });
        std::cout << "llmstream-mock listening on " << (opts.tls_cert_file.empty() ? "http" : "https") << "://" << opts.host << ':' << server.port() << std::endl;
        io.run();
    } catch (const std::exception& e) {
        std::cerr << "llmstream-mock: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
