// callbacks: the same library with plain completion handlers, no coroutines. Each handler asks
// for the next delta; a non-streaming call completes once with the whole answer.
#include "common/endpoint.hpp"

#include <cstdio>
#include <memory>

namespace asio = boost::asio;
using boost::system::error_code;

// Reads one stream to its end. The reader keeps itself alive through the handler it passes on.
class reader : public std::enable_shared_from_this<reader> {
public:
    reader(llmstream::stream s, std::function<void(bool ok)> done) : stream_(std::move(s)), done_(std::move(done)) {}

    void next() {
        stream_.async_next([self = shared_from_this()](error_code ec, const llmstream::delta* d) {
            if (ec) {
                std::fprintf(stderr, "\nfailed: %s\n", self->stream_.diagnostics().to_string(ec).c_str());
                return self->done_(false);
            }
            if (!d) {
                std::fputc('\n', stdout);
                return self->done_(true);
            }
            std::fputs(d->content.c_str(), stdout);  // d is valid until the next async_next
            std::fflush(stdout);
            self->next();
        });
    }

private:
    llmstream::stream stream_;
    std::function<void(bool)> done_;
};

int main() {
    asio::io_context io(1);
    auto ep = example::pick(io, "mock?tokens=12&pace_ms=10");
    llmstream::client client(io.get_executor(), ep.config);
    int failures = 0;
    llmstream::diagnostics diag;  // must outlive the async_chat below

    auto finish = [&] {
        if (ep.mock) ep.mock->stop();
    };
    // After the stream, one non-streaming call.
    auto then_ask_whole = [&](bool ok) {
        if (!ok) ++failures;
        client.async_chat({.model = ep.model, .messages = {{"user", "And in one sentence?"}}}, diag,
                          [&](error_code ec, llmstream::completion c) {
                              if (ec) {
                                  ++failures;
                                  std::fprintf(stderr, "failed: %s\n", diag.to_string(ec).c_str());
                              } else {
                                  std::printf("whole answer: %s\n", c.content.c_str());
                              }
                              finish();
                          });
    };
    std::make_shared<reader>(client.chat_stream({.model = ep.model, .messages = {{"user", "Tell me a story."}}}),
                             then_ask_whole)
        ->next();
    io.run();
    return failures == 0 ? 0 : 1;
}
