// What the streams of an HTTP/2 connection hear when its socket fails (h2::connection_lost): the
// same error whichever side noticed the server's close first.
#include "http/h2/session_core.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <catch2/catch.hpp>

using llmstream::errc;
using llmstream::http::h2::connection_lost;
namespace ae = boost::asio::error;

TEST_CASE("h2: a connection the server closed or reset is connection_closed, read side or write side", "[h2]") {
    CHECK(connection_lost(ae::eof) == errc::connection_closed);                                 // the reader
    CHECK(connection_lost(boost::asio::ssl::error::stream_truncated) == errc::connection_closed);  // TLS, no close_notify
    CHECK(connection_lost(ae::broken_pipe) == errc::connection_closed);                         // the writer
    CHECK(connection_lost(ae::connection_reset) == errc::connection_closed);
    // Anything else keeps its own name.
    CHECK(connection_lost(ae::timed_out) == ae::timed_out);
    CHECK(connection_lost(errc::http2_flood) == errc::http2_flood);
    CHECK_FALSE(connection_lost({}));
}
