#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/ssl.h>

#include <set>
#include <string>

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

TEST_CASE("every error enumerator has its own stable name, and error_class_name tells the rest apart", "[error]") {
    std::set<std::string> names;
    for (int v = 1; v <= 21; ++v) {
        const std::string n = llmstream::to_string(static_cast<llmstream::errc>(v));
        CHECK(n != "error");
        CHECK(names.insert(n).second);
        CHECK(llmstream::error_class_name(static_cast<llmstream::errc>(v)) == n);
    }
    for (int v = 1; v <= 13; ++v) {
        const std::string n = llmstream::to_string(static_cast<llmstream::api_errc>(v));
        CHECK(n != "api_error");
        CHECK(names.insert(n).second);
    }
    CHECK(std::string(llmstream::to_string(llmstream::errc::line_too_long)) == "line_too_long");
    CHECK(std::string(llmstream::to_string(llmstream::api_errc::rate_limited)) == "rate_limited");
    CHECK(std::string(llmstream::error_class_name({})) == "ok");
    CHECK(std::string(llmstream::error_class_name(boost::asio::error::operation_aborted)) == "cancelled");
    CHECK(std::string(llmstream::error_class_name(boost::asio::error::connection_refused)) == "network");
    CHECK(std::string(llmstream::error_class_name(boost::asio::error::no_memory)) == "error");
    const boost::system::error_code tls(1, boost::asio::error::get_ssl_category());
    CHECK(llmstream::is_tls_error(tls));
    CHECK(std::string(llmstream::error_class_name(tls)) == "tls");
    CHECK_FALSE(llmstream::is_tls_error(boost::asio::error::connection_reset));
}
