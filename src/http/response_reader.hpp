// Sans-IO reader of one HTTP/1.1 response: bytes from the connection in, a parsed head and body
// bytes out. The transport only reads the socket into read_buffer() and calls commit(); framing
// (Content-Length, chunked, close-delimited), limits and every malformed-input case live here,
// where a fuzz target can reach them without a socket.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

namespace llmstream::http {

/// What the reader tells its owner. Called synchronously from commit()/commit_eof().
class response_handler {
public:
    virtual ~response_handler() = default;
    /// The head is complete (interim 1xx responses are skipped). Body bytes follow through
    /// on_body. An error stops the reader.
    virtual boost::system::error_code on_head() = 0;
    /// A piece of the body, de-chunked. An error stops the reader.
    virtual boost::system::error_code on_body(std::string_view bytes) = 0;
};

class response_reader {
public:
    struct limits {
        std::size_t header = 64 * 1024;  ///< status line + header fields
    };

    explicit response_reader(response_handler& handler, limits l);
    explicit response_reader(response_handler& handler) : response_reader(handler, limits{}) {}
    ~response_reader();
    response_reader(const response_reader&) = delete;
    response_reader& operator=(const response_reader&) = delete;

    /// Where the next read from the connection should put its bytes (never empty).
    std::span<char> read_buffer();
    /// `n` bytes were read into read_buffer(): parses them, calling the handler. Errors:
    /// errc::invalid_http_response (bad status line, header, chunk framing, header limit,
    /// unsupported Content-Encoding) or whatever the handler returned.
    boost::system::error_code commit(std::size_t n);
    /// The connection reached end of file: completes a close-delimited body, otherwise
    /// errc::connection_closed.
    boost::system::error_code commit_eof();

    bool head_done() const noexcept;
    bool done() const noexcept;
    /// Bytes received so far (0: the server sent nothing at all).
    std::size_t bytes_received() const noexcept { return received_; }
    /// True when the connection may carry another request: the response ended by its framing,
    /// the server did not ask to close, and no bytes beyond it arrived.
    bool reusable() const noexcept;

    int status() const noexcept;
    /// The body's length when Content-Length frames it (not for chunked or close-delimited bodies).
    std::optional<std::uint64_t> content_length() const noexcept;
    /// A header field's value, "" when absent (the first one if repeated).
    std::string_view header(std::string_view name) const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::size_t received_ = 0;
};

}  // namespace llmstream::http
