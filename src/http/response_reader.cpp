#include "http/response_reader.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

namespace llmstream::http {

namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

// A Beast body that hands every de-chunked body piece to the handler instead of storing it.
struct handler_body {
    struct value_type {
        response_handler* handler = nullptr;
    };

    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(bhttp::header<isRequest, Fields>&, value_type& body) : body_(body) {}
        void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
            std::size_t n = 0;
            for (const auto b : boost::beast::buffers_range_ref(buffers)) {
                ec = body_.handler->on_body(std::string_view(static_cast<const char*>(b.data()), b.size()));
                if (ec) return n;
                n += b.size();
            }
            return n;
        }
        void finish(error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

using parser_type = bhttp::response_parser<handler_body>;

bool is_parse_error(const error_code& ec) { return ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category(); }

}  // namespace

struct response_reader::impl {
    impl(response_handler& h, limits l) : handler(h), lim(l) { reset_parser(); }

    void reset_parser() {
        parser.emplace();
        parser->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(lim.header, UINT32_MAX)));
        parser->body_limit(boost::none);  // the handler bounds what it keeps
        parser->get().body().handler = &handler;
        head_seen = false;
        head_bytes = 0;
    }

    // Parses what is buffered. Returns an error, or nothing when more input is needed or the
    // message is complete.
    error_code parse() {
        while (begin < end && !parser->is_done()) {
            error_code ec;
            const bool in_head = !parser->is_header_done();
            const std::size_t used = parser->put(boost::asio::buffer(buffer.data() + begin, end - begin), ec);
            begin += used;
            if (in_head) head_bytes += used;
            if (ec == bhttp::error::need_more) {
                // Beast enforces the header limit only on some paths (it depends on how the
                // bytes were split): a head that has not ended within the limit is refused here.
                // (Beast may also have consumed the complete lines of an unfinished head.)
                if (!parser->is_header_done() && head_bytes + (end - begin) >= lim.header)
                    return errc::invalid_http_response;
                return {};
            }
            if (ec) return translate(ec);
            if (auto hec = after_progress()) return hec;
            if (used == 0) return {};
        }
        return {};
    }

    error_code after_progress() {
        if (!parser->is_header_done() || head_seen) return {};
        // Beast checks header_limit only when the head arrives in pieces: check it either way.
        if (head_bytes > lim.header) return errc::invalid_http_response;
        const int status = static_cast<int>(parser->get().result_int());
        if (status >= 100 && status < 200 && status != 101) {
            // An interim response (100 Continue, 103 Early Hints): the real one follows.
            reset_parser();
            return {};
        }
        head_seen = true;
        const auto encoding = parser->get().find(bhttp::field::content_encoding);
        if (encoding != parser->get().end()) {
            const std::string_view v(encoding->value().data(), encoding->value().size());
            if (!v.empty() && v != "identity") {
                return errc::invalid_http_response;
            }
        }
        parser->eager(true);
        return handler.on_head();
    }

    static error_code translate(const error_code& ec) {
        if (ec == bhttp::error::partial_message || ec == bhttp::error::end_of_stream) return errc::connection_closed;
        if (is_parse_error(ec)) return errc::invalid_http_response;
        return ec;  // the handler's own error
    }

    response_handler& handler;
    limits lim;
    std::optional<parser_type> parser;
    std::vector<char> buffer;
    std::size_t begin = 0;
    std::size_t end = 0;
    bool head_seen = false;
    std::size_t head_bytes = 0;  // bytes of the current head so far

};

response_reader::response_reader(response_handler& handler, limits l) : impl_(std::make_unique<impl>(handler, l)) {}
response_reader::~response_reader() = default;

std::span<char> response_reader::read_buffer() {
    auto& b = *impl_;
    if (b.begin == b.end) b.begin = b.end = 0;
    constexpr std::size_t min_free = 4096;
    if (b.buffer.size() - b.end < min_free) {
        // Move what is left to the front; grow only if that does not free enough.
        if (b.begin > 0) {
            std::memmove(b.buffer.data(), b.buffer.data() + b.begin, b.end - b.begin);
            b.end -= b.begin;
            b.begin = 0;
        }
        if (b.buffer.size() - b.end < min_free) b.buffer.resize(std::max<std::size_t>(b.end + min_free, b.buffer.size() * 2));
    }
    return {b.buffer.data() + b.end, b.buffer.size() - b.end};
}

boost::system::error_code response_reader::commit(std::size_t n) {
    auto& b = *impl_;
    n = std::min(n, b.buffer.size() - b.end);
    b.end += n;
    received_ += n;
    return b.parse();
}

boost::system::error_code response_reader::commit_eof() {
    auto& b = *impl_;
    if (!b.head_seen) return errc::connection_closed;  // closed before (or inside) the head
    if (b.parser->is_done()) return {};
    error_code ec;
    b.parser->put_eof(ec);
    if (ec) return impl::translate(ec);
    if (auto hec = b.after_progress()) return hec;
    return b.parser->is_done() ? error_code{} : error_code(errc::connection_closed);
}

bool response_reader::head_done() const noexcept { return impl_->head_seen; }
bool response_reader::done() const noexcept { return impl_->head_seen && impl_->parser->is_done(); }

bool response_reader::reusable() const noexcept {
    return done() && impl_->parser->keep_alive() && impl_->begin == impl_->end;
}

int response_reader::status() const noexcept {
    return impl_->parser->is_header_done() ? static_cast<int>(impl_->parser->get().result_int()) : 0;
}

std::string_view response_reader::header(std::string_view name) const noexcept {
    if (!impl_->parser->is_header_done()) return {};
    const auto& h = impl_->parser->get();
    const auto it = h.find(boost::beast::string_view(name.data(), name.size()));
    return it == h.end() ? std::string_view{} : std::string_view(it->value().data(), it->value().size());
}

}  // namespace llmstream::http
