#include "exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>

namespace llmstream::http::h2 {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::steady_clock;

exchange::exchange(std::shared_ptr<session> s, exchange_handler& handler, exchange_timeouts timeouts)
    : session_(std::move(s)), handler_(handler), timeouts_(timeouts), signal_(session_->executor()) {}

exchange::~exchange() {
    if (id_ != 0 && !ended_) session_->cancel_stream(id_);
}

void exchange::resume() {
    if (id_ == 0 || ended_ || !handler_.has_room()) return;
    session_->resume_stream(id_);
    // The server was held back by us: its silence until now was not a stall.
    last_activity_ = steady_clock::now();
    signal_.cancel();
}

void exchange::cancel() {
    cancelled_ = true;
    if (id_ != 0 && !ended_) session_->cancel_stream(id_);
    signal_.cancel();
}

asio::awaitable<exchange_result> exchange::run(const outgoing_request& request) {
    exchange_result result;
    if (cancelled_) {
        result.ec = asio::error::operation_aborted;
        co_return result;
    }
    error_code ec;
    id_ = session_->open_stream(*this, request, ec);
    if (id_ == 0) {  // the session closed or saw GOAWAY since it was chosen: nothing was sent
        result.ec = ec;
        result.unprocessed = true;
        co_return result;
    }
    // The first byte must come within first_byte of sending; later, no gap longer than idle.
    const auto [first_byte_end, first_byte_error] = timeouts_.phase_end(timeouts_.first_byte, errc::first_byte_timeout);
    while (!ended_ && !cancelled_) {
        auto when = first_byte_end;
        errc error = first_byte_error;
        if (received_ > 0) {
            when = steady_clock::time_point::max();
            error = errc::idle_timeout;
            // While the reader is behind, this stream's window is held back and the server cannot
            // send: no idle limit then (the whole-request deadline still holds).
            if (timeouts_.idle.count() > 0 && handler_.has_room()) when = last_activity_ + timeouts_.idle;
            if (timeouts_.deadline < when) {
                when = timeouts_.deadline;
                error = errc::deadline_exceeded;
            }
        }
        if (steady_clock::now() >= when) {
            session_->cancel_stream(id_);  // RST_STREAM; the connection stays for the others
            ended_ = true;
            result.ec = error;
            co_return result;
        }
        signal_.expires_at(when);
        co_await signal_.async_wait(asio::as_tuple(asio::deferred));
    }
    if (cancelled_ && !ended_) {
        result.ec = asio::error::operation_aborted;
        co_return result;
    }
    result.ec = end_.ec;
    result.unprocessed = end_.unprocessed && !cancelled_;
    result.http2_error_code = end_.reset_code;
    result.reusable = true;
    co_return result;
}

void exchange::on_header(std::string_view name, std::string_view value) {
    received_ += name.size() + value.size();
    last_activity_ = steady_clock::now();
    headers_.emplace_back(name, value);
}

error_code exchange::on_head_end(int status) {
    status_ = status;
    last_activity_ = steady_clock::now();
    received_ += 1;
    // Nothing asked for an encoding (no Accept-Encoding is sent): a coded body cannot be read.
    const std::string_view coding = header("content-encoding");
    if (!coding.empty() && !boost::beast::iequals(coding, "identity")) return errc::invalid_http_response;
    return handler_.on_head(static_cast<const response_head&>(*this));
}

error_code exchange::on_data(std::string_view bytes) {
    received_ += bytes.size();
    last_activity_ = steady_clock::now();
    return handler_.on_body(bytes, false);
}

void exchange::on_end(const stream_end& end) {
    end_ = end;
    ended_ = true;
    signal_.cancel();
}

std::string_view exchange::header(std::string_view name) const noexcept {
    for (const auto& [n, v] : headers_)
        if (boost::beast::iequals(n, name)) return v;
    return {};
}

std::optional<std::uint64_t> exchange::content_length() const noexcept {
    const std::string_view v = header("content-length");
    std::uint64_t n = 0;
    if (v.empty()) return std::nullopt;
    const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
    return n;
}

}  // namespace llmstream::http::h2
