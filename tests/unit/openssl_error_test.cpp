// OpenSSL's error queue as one error code (http::take_openssl_error): what the TLS engine and
// connect report when OpenSSL fails.
#include "http/tls_stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <catch2/catch.hpp>

using llmstream::http::take_openssl_error;

TEST_CASE("OpenSSL's error queue: its first error, no_memory if an allocation failed anywhere in it", "[tls]") {
    ERR_clear_error();
    CHECK(take_openssl_error() == boost::asio::ssl::error::unspecified_system_error);  // nothing said

    ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
    const auto verify = take_openssl_error();
    CHECK(verify.category() == boost::asio::error::get_ssl_category());
    CHECK(ERR_GET_REASON(static_cast<unsigned long>(verify.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    CHECK(ERR_peek_error() == 0);  // taken

    // OpenSSL often reports what the failed step was doing first, the allocation after it.
    ERR_raise(ERR_LIB_EVP, EVP_R_DECODE_ERROR);
    ERR_raise(ERR_LIB_ASN1, ERR_R_MALLOC_FAILURE);
    CHECK(take_openssl_error() == boost::asio::error::no_memory);
    CHECK(ERR_peek_error() == 0);
}
