// The TLS client context (http::make_client_tls_context): what it trusts, and how it refuses a
// CA file it cannot load. Its behaviour when memory runs out is swept in tests/oom.
#include "http/tls_stream.hpp"
#include "support/scoped_environment.hpp"
#include "support/test_ca.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;

namespace {

int trusted_certificates(SSL_CTX* context) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(context));
    int n = 0;
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
        if (X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) ++n;
    return n;
}

}  // namespace

TEST_CASE("a TLS client context trusts the system's bundle and ca_file", "[tls]") {
    test_ca system_ca("DNS:system"), ca("DNS:localhost");
    tls_options tls;
    tls.ca_file = ca.ca_file();
    SECTION("the bundle SSL_CERT_FILE names") {
        scoped_environment env({{"SSL_CERT_FILE", system_ca.ca_file()}, {"SSL_CERT_DIR", "/nonexistent"}});
        CHECK(trusted_certificates(http::make_client_tls_context(tls)->native_handle()) == 2);
    }
    SECTION("an empty SSL_CERT_DIR (no directory) is no failure, as for OpenSSL") {
        scoped_environment env({{"SSL_CERT_FILE", system_ca.ca_file()}, {"SSL_CERT_DIR", ""}});
        CHECK(trusted_certificates(http::make_client_tls_context(tls)->native_handle()) == 2);
    }
    SECTION("a system bundle that is not there is no failure, as for OpenSSL") {
        scoped_environment env({{"SSL_CERT_FILE", system_ca.ca_file() + ".missing"}});
        CHECK(trusted_certificates(http::make_client_tls_context(tls)->native_handle()) == 1);
    }
    SECTION("nor one that holds no certificate") {
        scoped_environment env({{"SSL_CERT_FILE", system_ca.key_file()}});
        CHECK(trusted_certificates(http::make_client_tls_context(tls)->native_handle()) == 1);
    }
}

TEST_CASE("a TLS client context with a CA file it cannot load is refused with the file's name", "[tls]") {
    test_ca ca("DNS:localhost");
    tls_options tls;
    tls.ca_file = ca.ca_file() + ".missing";
    CHECK_THROWS_AS(http::make_client_tls_context(tls), std::invalid_argument);
    CHECK_THROWS_WITH(http::make_client_tls_context(tls),
                      "llmstream: tls.ca_file: cannot load \"" + tls.ca_file + "\": No such file or directory");
    tls.ca_file = ca.key_file();  // PEM, but no certificate in it
    CHECK_THROWS_AS(http::make_client_tls_context(tls), std::invalid_argument);
    CHECK_THROWS_WITH(http::make_client_tls_context(tls),
                      Catch::StartsWith("llmstream: tls.ca_file: cannot load \"" + tls.ca_file + "\": "));
}

TEST_CASE("a TLS client context made with no file descriptor left is a system error, not a bad CA file", "[tls]") {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizers' runtimes need descriptors of their own to check the exception being built
    // (UBSan then reports an "invalid vptr" whose memory "cannot be printed"): the release pass
    // runs this test.
    SUCCEED("not run under the sanitizers");
    return;
#endif
    test_ca ca("DNS:localhost");
    tls_options tls;
    tls.ca_file = ca.ca_file();
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    std::vector<int> taken;
    rlimit low = before;
    low.rlim_cur = 64;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    for (int fd; taken.size() < 64 && (fd = ::dup(0)) >= 0;) taken.push_back(fd);
    std::exception_ptr thrown;
    try {
        http::make_client_tls_context(tls);
    } catch (...) {
        thrown = std::current_exception();  // looked at once the descriptors are back (the sanitizers need some)
    }
    for (int fd : taken) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &before) == 0);
    int error = 0;
    try {
        if (thrown) std::rethrow_exception(thrown);
    } catch (const std::system_error& e) {
        error = e.code().value();
    } catch (...) {
        error = -1;
    }
    CHECK(error == EMFILE);
}
