// Runs llmstream::sse::parser over an input with a given chunking and records what it produced.
#pragma once

#include "sse_reference.hpp"

#include <llmstream/sse.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace llmstream::testing {

struct parse_record {
    std::vector<recorded_event> events;
    std::vector<std::string> comments;
    std::vector<std::string> order;  // "e" or "c" per callback, to check interleaving
    boost::system::error_code error;
    std::optional<long long> retry_ms;
    std::string last_event_id;
    bool partial = false;
    bool operator==(const parse_record&) const = default;
};

// Feeds `input` in pieces: cut points are byte offsets, in increasing order.
inline parse_record parse_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                                 sse::limits lim = {}) {
    sse::parser p(lim);
    parse_record r;
    auto on_event = [&](const sse::event& e) {
        r.events.push_back({std::string(e.type), std::string(e.data), std::string(e.id)});
        r.order.emplace_back("e");
    };
    auto on_comment = [&](std::string_view c) {
        r.comments.emplace_back(c);
        r.order.emplace_back("c");
    };
    std::size_t begin = 0;
    auto feed = [&](std::size_t end) {
        // Copy each piece so that views into an earlier piece cannot survive by accident.
        std::string piece(input.substr(begin, end - begin));
        auto ec = p.feed(piece, on_event, on_comment);
        piece.assign(piece.size(), '\x7f');
        if (ec && !r.error) r.error = ec;
        begin = end;
    };
    for (std::size_t cut : cuts) feed(cut);
    feed(input.size());
    if (p.retry()) r.retry_ms = p.retry()->count();
    r.last_event_id = std::string(p.last_event_id());
    r.partial = p.has_partial_event();
    return r;
}

inline parse_record parse_whole(std::string_view input, sse::limits lim = {}) {
    return parse_pieces(input, {}, lim);
}

inline parse_record parse_bytewise(std::string_view input, sse::limits lim = {}) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
    return parse_pieces(input, cuts, lim);
}

}  // namespace llmstream::testing
