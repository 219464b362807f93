// The mock's HTTP/2 side (h2c with prior knowledge, or h2 chosen by ALPN): nghttp2's server
// session, each request stream played through the same reply() as HTTP/1.1.
#pragma once

#include "state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace llmstream::mock {

struct h2_settings {
    std::uint32_t max_concurrent_streams = 128;   ///< SETTINGS_MAX_CONCURRENT_STREAMS (nginx's default)
    std::uint32_t max_streams_per_connection = 0;  ///< GOAWAY after this many streams (nginx keepalive_requests); 0: never
};

/// Serves a connection whose client sent the HTTP/2 preface (`buffered`: bytes already read).
boost::asio::awaitable<void> serve_http2(std::shared_ptr<server::state> st,
                                         std::shared_ptr<boost::asio::ip::tcp::socket> socket, std::string buffered,
                                         h2_settings settings);
/// Serves a TLS connection on which ALPN chose h2.
boost::asio::awaitable<void> serve_http2(std::shared_ptr<server::state> st,
                                         std::shared_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> socket,
                                         h2_settings settings);

}  // namespace llmstream::mock
