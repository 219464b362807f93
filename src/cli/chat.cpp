// `llmstream chat`: stream one reply to stdout.
#include "cli/commands.hpp"
#include "cli/outcome.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>

namespace llmstream::cli {

namespace {

namespace asio = boost::asio;
using std::chrono::steady_clock;

std::string prompt_text(const options& o) {
    if (o.prompt.size() == 1 && o.prompt[0] == "-")
        return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    std::string text;
    for (const auto& w : o.prompt) text += (text.empty() ? "" : " ") + w;
    return text;
}

void write_out(std::string_view text) {
    if (text.empty()) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

void report_failure(const boost::system::error_code& ec, const diagnostics& diag) {
    const failure_report r = describe_failure(ec, diag);
    std::cerr << r.summary << '\n';
    if (!r.hint.empty()) std::cerr << r.hint << '\n';
}

// Reasoning is printed apart from the answer: between markers, dimmed on a terminal.
class reasoning_display {
public:
    explicit reasoning_display(bool enabled) : enabled_(enabled), tty_(::isatty(STDOUT_FILENO) == 1) {}
    void reasoning(std::string_view text) {
        if (!enabled_ || text.empty()) return;
        if (!open_) {
            write_out(tty_ ? "\x1b[2m[reasoning]\n" : "[reasoning]\n");
            open_ = true;
        }
        write_out(text);
    }
    void close() {
        if (!open_) return;
        write_out(tty_ ? "\n[/reasoning]\x1b[0m\n\n" : "\n[/reasoning]\n\n");
        open_ = false;
    }

private:
    bool enabled_;
    bool tty_;
    bool open_ = false;
};

struct stats {
    steady_clock::time_point start = steady_clock::now();
    std::optional<steady_clock::time_point> first_token;
    steady_clock::time_point end;
    std::int64_t tokens = 0;  // from usage when the server reports it, else deltas with text
    std::int64_t text_deltas = 0;
};

void report_success(const stats& s, const diagnostics& diag) {
    using ms = std::chrono::duration<double, std::milli>;
    const std::int64_t tokens = s.tokens > 0 ? s.tokens : s.text_deltas;
    char line[256];
    if (s.first_token) {
        const double gen_s = std::chrono::duration<double>(s.end - *s.first_token).count();
        std::snprintf(line, sizeof line, "llmstream: %.0f ms to first token, %lld tokens, %.1f tokens/s",
                      ms(*s.first_token - s.start).count(), static_cast<long long>(tokens),
                      gen_s > 0 ? static_cast<double>(tokens) / gen_s : 0.0);
    } else {  // not streamed: the whole answer came at once
        std::snprintf(line, sizeof line, "llmstream: %.0f ms for the whole answer, %lld tokens",
                      ms(s.end - s.start).count(), static_cast<long long>(tokens));
    }
    std::cerr << line << ", " << diag.attempts << (diag.attempts == 1 ? " attempt" : " attempts");
    if (!diag.request_id.empty()) std::cerr << ", request id " << diag.request_id;
    std::cerr << '\n';
}

// --no-stream: one completion, printed whole. (Arguments by reference: they outlive io.run().)
asio::awaitable<void> whole_reply(client& c, chat_request& req, const options& o, stats& st, int& code) {
    reasoning_display thinking(o.show_reasoning);
    diagnostics diag;
    auto [ec, done] = co_await c.async_chat(std::move(req), diag, asio::as_tuple(asio::deferred));
    st.end = steady_clock::now();
    if (ec) {
        report_failure(ec, diag);
        code = exit_code_for(ec);
        co_return;
    }
    thinking.reasoning(done.reasoning_content);
    thinking.close();
    write_out(done.content);
    write_out("\n");
    if (done.usage) st.tokens = done.usage->output_tokens;
    if (o.verbose) report_success(st, diag);
    code = exit_code::ok;
}

}  // namespace

int run_chat(const options& o, const endpoint& ep) {
    if (ep.key_required && ep.config.api_key.empty()) {
        std::cerr << "llmstream: authentication: no API key (pass --api-key or set " << ep.key_variable << ")\n"
                  << "hint: create a key in the provider's console and export " << ep.key_variable << "\n";
        return exit_code::authentication;
    }
    chat_request req;
    req.model = o.model;
    if (!o.system.empty()) req.messages.push_back({"system", o.system});
    req.messages.push_back({"user", prompt_text(o)});

    asio::io_context io(1);
    client c(io.get_executor(), ep.config);
    int code = exit_code::other;
    stats st;
    // Two coroutines, not one: GCC 12 with the sanitizers warns falsely (mismatched-new-delete)
    // about one frame that holds both a completion and a stream.
    if (o.no_stream) {
        asio::co_spawn(io, whole_reply(c, req, o, st, code), asio::detached);
        io.run();
        return code;
    }
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        reasoning_display thinking(o.show_reasoning);
        auto s = c.chat_stream(std::move(req));
        bool printed = false;
        for (;;) {
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            if (ec || !d) {
                st.end = steady_clock::now();
                thinking.close();
                if (printed || !ec) write_out("\n");
                if (ec) {
                    report_failure(ec, s.diagnostics());
                    code = exit_code_for(ec);
                } else {
                    if (o.verbose) report_success(st, s.diagnostics());
                    code = exit_code::ok;
                }
                co_return;
            }
            if (!d->content.empty() || !d->reasoning_content.empty()) {
                if (!st.first_token) st.first_token = steady_clock::now();
                if (!d->content.empty()) ++st.text_deltas;
            }
            thinking.reasoning(d->reasoning_content);
            if (!d->content.empty()) {
                thinking.close();
                write_out(d->content);
                printed = true;
            }
            if (d->usage) st.tokens = d->usage->output_tokens;
        }
    }, asio::detached);
    io.run();
    return code;
}

}  // namespace llmstream::cli
