// Integration-test support: read a stream to its end and keep what it said.
#pragma once

#include <llmstream/stream.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/deferred.hpp>

#include <optional>
#include <string>

namespace llmstream::testing {

/// The text llmstream-mock streams for `tokens` tokens: "tok0 tok1 ...".
inline std::string expected_text(int tokens, const std::string& word = "tok") {
    std::string s;
    for (int i = 0; i < tokens; ++i) s += (i ? " " : "") + word + std::to_string(i);
    return s;
}

struct collected {
    std::string content;
    std::string reasoning;
    int deltas = 0;
    finish_reason finish = finish_reason::none;
    std::optional<usage> use;
    boost::system::error_code ec;
};

inline boost::asio::awaitable<collected> collect(stream& s, int max_deltas = 1 << 30) {
    collected out;
    while (out.deltas < max_deltas) {
        auto [ec, d] = co_await s.async_next(boost::asio::as_tuple(boost::asio::deferred));
        if (ec) {
            out.ec = ec;
            break;
        }
        if (!d) break;
        ++out.deltas;
        out.content += d->content;
        out.reasoning += d->reasoning_content;
        if (d->finish != finish_reason::none) out.finish = d->finish;
        if (d->usage) out.use = d->usage;
    }
    co_return out;
}

}  // namespace llmstream::testing
