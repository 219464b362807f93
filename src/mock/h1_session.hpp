// The mock's HTTP/1.1 side: requests read with Beast, replies written as HTTP/1.1 bytes.
#pragma once

#include "state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>

namespace llmstream::mock {

/// Serves requests on a connection until it closes. `buffered`: bytes already read from it (the
/// accept loop peeks for the HTTP/2 preface).
boost::asio::awaitable<void> serve_http1(std::shared_ptr<server::state> st,
                                         std::shared_ptr<boost::asio::ip::tcp::socket> socket, std::string buffered);
boost::asio::awaitable<void> serve_http1(std::shared_ptr<server::state> st,
                                         std::shared_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> socket);

}  // namespace llmstream::mock
