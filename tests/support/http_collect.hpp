// Test support: feed raw bytes to an http::response_reader in chosen pieces and record what it
// reported.
#pragma once

#include "http/response_reader.hpp"

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::testing {

struct http_outcome {
    boost::system::error_code ec;
    int status = 0;
    int heads = 0;
    std::string body;
    bool done = false;
    bool reusable = false;
    bool operator==(const http_outcome&) const = default;
};

class recording_handler : public http::response_handler {
public:
    http::response_reader* reader = nullptr;
    http_outcome* out = nullptr;
    std::size_t fail_after_body_bytes = static_cast<std::size_t>(-1);

    boost::system::error_code on_head() override {
        ++out->heads;
        out->status = reader->status();
        return {};
    }
    boost::system::error_code on_body(std::string_view bytes) override {
        out->body.append(bytes);
        if (out->body.size() > fail_after_body_bytes) return boost::asio::error::no_buffer_space;
        return {};
    }
};

/// Feeds all of `input` in pieces of the given sizes (the last size repeats), then end of file
/// if `eof`. Stops at the first error.
inline http_outcome feed_http(std::string_view input, const std::vector<std::size_t>& pieces, bool eof = true,
                              http::response_reader::limits limits = {}) {
    http_outcome out;
    recording_handler h;
    http::response_reader reader(h, limits);
    h.reader = &reader;
    h.out = &out;
    std::size_t i = 0, k = 0;
    while (i < input.size() && !out.ec) {
        const std::size_t want = std::max<std::size_t>(1, pieces.empty() ? input.size() : pieces[std::min(k++, pieces.size() - 1)]);
        auto space = reader.read_buffer();
        const std::size_t n = std::min({want, space.size(), input.size() - i});
        std::memcpy(space.data(), input.data() + i, n);
        i += n;
        out.ec = reader.commit(n);  // bytes past a complete response are kept (and make it unusable)
    }
    if (!out.ec && eof && !reader.done()) out.ec = reader.commit_eof();
    out.done = reader.done();
    out.reusable = reader.reusable();
    return out;
}

}  // namespace llmstream::testing
