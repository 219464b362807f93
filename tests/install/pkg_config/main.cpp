// Built with `c++ -std=c++20 main.cpp $(pkg-config --cflags --libs llmstream)` against an installed
// tree: the umbrella header, and a client (TLS, URL parsing, the JSON encoders) so that a static
// libllmstream.a pulls in every library the .pc file must name.
#include <llmstream/llmstream.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
    boost::asio::io_context io;
    llmstream::client client{io.get_executor(), llmstream::providers::custom("https://127.0.0.1:9/v1", "key")};
    if (client.pool_stats().open != 0) return 1;
    llmstream::sse::parser p;
    auto ec = p.feed("data: hello from pkg-config\n\n",
                     [](const llmstream::sse::event& e) { std::cout << e.data << '\n'; });
    return ec ? 1 : 0;
}
