#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/ssl.h>

#include <catch2/catch.hpp>

TEST_CASE("library error codes have their own category and a message naming the limit", "[error]") {
    const boost::system::error_code ec = llmstream::errc::line_too_long;
    CHECK(std::string(ec.category().name()) == "llmstream");
    CHECK(ec.message().find("max_line_size") != std::string::npos);
    CHECK(ec == llmstream::errc::line_too_long);
    CHECK(ec != llmstream::errc::event_too_large);
    const boost::system::error_code big = llmstream::errc::event_too_large;
    CHECK(big.message().find("max_event_size") != std::string::npos);
}

TEST_CASE("TLS: a cut handshake is retryable, what OpenSSL itself reports is not", "[error][retry]") {
    using llmstream::is_retryable;
    CHECK(is_retryable(boost::asio::ssl::error::stream_truncated));
    // A certificate that fails verification, https:// against a plain-HTTP port.
    const boost::system::error_code verify(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED),
                                           boost::asio::error::get_ssl_category());
    const boost::system::error_code wrong_version(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_WRONG_VERSION_NUMBER),
                                                  boost::asio::error::get_ssl_category());
    CHECK_FALSE(is_retryable(verify));
    CHECK_FALSE(is_retryable(wrong_version));
    // Dropped connections stay retryable.
    CHECK(is_retryable(boost::asio::error::connection_reset));
    CHECK(is_retryable(boost::asio::error::connection_refused));
    CHECK_FALSE(is_retryable(boost::asio::error::operation_aborted));
}
