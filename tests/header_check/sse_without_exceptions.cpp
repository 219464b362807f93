// The SSE parser's header builds in code compiled without exceptions (the parse loop and its
// exception handling are in the library), with any kind of callback.
#include <llmstream/sse.hpp>

#include <string_view>

namespace {

int events = 0;
void count_event(const llmstream::sse::event&) { ++events; }
void ignore_comment(std::string_view) {}

}  // namespace

int sse_without_exceptions_check() {
    llmstream::sse::parser p;
    const auto counter = [](const llmstream::sse::event&) { ++events; };
    (void)p.feed("data: a\n\n", count_event);
    (void)p.feed(":c\ndata: b\n\n", counter, ignore_comment);
    (void)p.feed("data: c\n\n", [](const llmstream::sse::event&) {}, [](std::string_view) {});
    return events;
}
