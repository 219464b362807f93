#include "tls_stream.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

namespace llmstream::http {

namespace asio = boost::asio;
using boost::system::error_code;

// The BIO between OpenSSL and tls_engine: reads take the buffered ciphertext, writes append to
// the output. Its data pointer is the engine.
struct tls_bio {
    static BIO_METHOD* method() {
        static BIO_METHOD* const m = [] {
            BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "llmstream tls");
            if (made == nullptr || BIO_meth_set_read(made, read) != 1 || BIO_meth_set_write(made, write) != 1 ||
                BIO_meth_set_ctrl(made, ctrl) != 1 || BIO_meth_set_create(made, create) != 1)
                throw std::bad_alloc();  // (leaks `made` once, if at all: a one-time setup out of memory)
            return made;
        }();
        return m;
    }
    static tls_engine& engine(BIO* b) { return *static_cast<tls_engine*>(BIO_get_data(b)); }
    static int create(BIO* b) {
        BIO_set_init(b, 1);
        return 1;
    }
    static int read(BIO* b, char* out, int size) {
        BIO_clear_retry_flags(b);
        const int n = engine(b).bio_read(out, size);
        if (n < 0) BIO_set_retry_read(b);
        return n;
    }
    static int write(BIO* b, const char* data, int size) {
        BIO_clear_retry_flags(b);
        try {
            return engine(b).bio_write(data, size);
        } catch (...) {  // out of memory: OpenSSL reports a failed write, take_openssl_error why
            ERR_raise(ERR_LIB_BIO, ERR_R_MALLOC_FAILURE);
            return -1;
        }
    }
    static long ctrl(BIO*, int cmd, long, void*) {
        switch (cmd) {
        case BIO_CTRL_FLUSH: return 1;  // the output is sent by the driver
        default: return 0;
        }
    }
};

error_code take_openssl_error() {
    const unsigned long first = ERR_peek_error();
    if (first == 0) return asio::ssl::error::unspecified_system_error;
    bool out_of_memory = false;
    while (const unsigned long code = ERR_get_error()) out_of_memory |= ERR_GET_REASON(code) == ERR_R_MALLOC_FAILURE;
    if (out_of_memory) return asio::error::no_memory;
    return {static_cast<int>(first), asio::error::get_ssl_category()};
}

namespace {

// OpenSSL works out a certificate's extensions the first time it checks the certificate, and keeps
// the answer, a failure included: a trusted (CA) certificate whose first check ran out of memory
// would stay "invalid" for every later handshake of the client (the allocation-failure sweep over
// TLS found it). Every certificate in the store is checked once here, as the context is made.
// (Certificates found later in a hashed directory are not in the store yet; the system bundle,
// which OpenSSL loads whole, is.) If memory runs out here, the context is not made
// (std::bad_alloc) rather than made with a certificate that stays invalid.
//
// A failed check does not say why: OpenSSL drops the errors of extension parsing, a failed
// allocation's among them. A fresh copy of the certificate, checked again, tells: a certificate
// with a real defect fails again (it stays in the store, for its handshakes to report), one whose
// first check ran out of memory passes.
void settle_trusted_certificates(SSL_CTX* context) {
    ERR_clear_error();
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(context));
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
        X509* certificate = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
        if (certificate == nullptr || X509_check_purpose(certificate, -1, 0) == 1) continue;
        X509* copy = X509_dup(certificate);
        const bool defect = copy != nullptr && X509_check_purpose(copy, -1, 0) != 1;
        X509_free(copy);
        if (!defect) {
            ERR_clear_error();
            throw std::bad_alloc();
        }
    }
    // What a certificate's own defects raised is for its handshakes to report; only memory matters here.
    if (take_openssl_error() == asio::error::no_memory) throw std::bad_alloc();
}

// Why a bundle could not be loaded: the errno of opening it (0 when that was not the failure),
// and what OpenSSL said.
struct load_failure {
    int system_error = 0;
    error_code ec{};
    explicit operator bool() const noexcept { return system_error != 0 || ec; }
    /// A failure of the moment, not of the file: the process is out of file descriptors.
    bool out_of_descriptors() const noexcept { return system_error == EMFILE || system_error == ENFILE; }
    std::string why() const { return system_error ? std::generic_category().message(system_error) : ec.message(); }
};

// Loads a PEM bundle into the file lookup's store: `path`, or with X509_FILETYPE_DEFAULT
// OpenSSL's default bundle or SSL_CERT_FILE (as OpenSSL reads it). A failure that is not the
// opening of the file is tried once more: OpenSSL reports some of its failed allocations as a
// defect of the file ("PEM lib"), and a second load that succeeds shows it was one (certificates
// the first load added are not added twice). Memory running out, when OpenSSL or the system says
// so, is std::bad_alloc, even after a load that reports success: OpenSSL 3.0 counts a bundle
// whose Nth certificate could not be added as loaded.
load_failure load_bundle(X509_LOOKUP* file_lookup, const char* path, int type) {
    load_failure failure;
    for (int attempt = 0; attempt < 2; ++attempt) {
        ERR_clear_error();
        if (X509_LOOKUP_load_file(file_lookup, path, type) == 1) {
            if (take_openssl_error() == asio::error::no_memory) throw std::bad_alloc();
            return {};
        }
        const unsigned long first = ERR_peek_error();
        failure.system_error = ERR_SYSTEM_ERROR(first) ? ERR_GET_REASON(first) : 0;
        failure.ec = take_openssl_error();
        if (failure.ec == asio::error::no_memory || failure.system_error == ENOMEM) throw std::bad_alloc();
        if (failure.system_error) break;
    }
    return failure;
}

// Adds a lookup to the store; only memory makes that fail.
X509_LOOKUP* add_lookup(X509_STORE* store, X509_LOOKUP_METHOD* method) {
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, method);
    if (lookup == nullptr) {
        ERR_clear_error();
        throw std::bad_alloc();
    }
    return lookup;
}

// The system's trust store, as SSL_CTX_set_default_verify_paths sets it up (the bundle file, the
// hashed directory and the default store URIs, from OpenSSL's defaults or SSL_CERT_FILE,
// SSL_CERT_DIR and the like), then `ca_file`. Not that function itself: it clears the errors of
// its load, so memory running out while it read the bundle made a client that trusted fewer CAs,
// silently (the allocation-failure sweep found it). A system bundle that cannot be read or holds
// nothing is skipped, as OpenSSL skips it; running out of file descriptors while opening it is
// std::system_error. A `ca_file` that cannot be loaded is a configuration that cannot work:
// std::invalid_argument, naming it (std::system_error when out of file descriptors).
void load_trusted_certificates(SSL_CTX* context, const std::string& ca_file) {
    X509_STORE* store = SSL_CTX_get_cert_store(context);
    X509_LOOKUP* file_lookup = add_lookup(store, X509_LOOKUP_file());
    X509_LOOKUP* dir_lookup = add_lookup(store, X509_LOOKUP_hash_dir());
    X509_LOOKUP* store_lookup = add_lookup(store, X509_LOOKUP_store());
    ERR_clear_error();
    if (const auto failure = load_bundle(file_lookup, nullptr, X509_FILETYPE_DEFAULT); failure.out_of_descriptors())
        throw std::system_error(failure.system_error, std::generic_category(),
                                "llmstream: the system's trusted certificates cannot be loaded");
    ERR_clear_error();
    // Nothing is read from the directory yet. Adding it fails only for memory (OpenSSL 3.0 does not
    // always say so), or for an empty SSL_CERT_DIR, which names no directory and is skipped.
    if (X509_LOOKUP_add_dir(dir_lookup, nullptr, X509_FILETYPE_DEFAULT) != 1) {
        bool no_directory = false;
        while (const unsigned long code = ERR_get_error())
            no_directory |= ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_INVALID_DIRECTORY;
        if (!no_directory) throw std::bad_alloc();
    }
    // The default store URIs (none in OpenSSL 3.0): only memory makes this fail.
    if (X509_LOOKUP_add_store(store_lookup, nullptr) != 1) {
        ERR_clear_error();
        throw std::bad_alloc();
    }
    if (ca_file.empty()) return;
    if (const auto failure = load_bundle(file_lookup, ca_file.c_str(), X509_FILETYPE_PEM)) {
        const std::string what = "llmstream: tls.ca_file: cannot load \"" + ca_file + "\"";
        if (failure.out_of_descriptors()) throw std::system_error(failure.system_error, std::generic_category(), what);
        throw std::invalid_argument(what + ": " + failure.why());
    }
}

}  // namespace

std::unique_ptr<asio::ssl::context> make_client_tls_context(const tls_options& tls) {
    ERR_clear_error();
    // Made here, not by asio's constructor, which reports memory running out as an SSL error.
    SSL_CTX* handle = SSL_CTX_new(TLS_client_method());
    if (handle == nullptr) {
        // Memory, unless OpenSSL says what else (its configuration, a provider): some of its
        // failed allocations leave no error at all.
        const error_code ec = take_openssl_error();
        if (ec == asio::error::no_memory || ec == asio::ssl::error::unspecified_system_error) throw std::bad_alloc();
        throw std::runtime_error("TLS: no client context: " + ec.message());
    }
    std::unique_ptr<asio::ssl::context> context;
    try {
        context = std::make_unique<asio::ssl::context>(handle);  // owns it from here
    } catch (...) {
        SSL_CTX_free(handle);
        throw;
    }
    SSL_CTX_set_options(context->native_handle(), SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    // OpenSSL frees a connection's record buffers while nothing is pending (about 34 KiB
    // each, idle or between reads): thousands of TLS connections cost a fraction of the memory.
    SSL_CTX_set_mode(context->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    load_trusted_certificates(context->native_handle(), tls.ca_file);
    settle_trusted_certificates(context->native_handle());
    context->set_verify_mode(tls.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
    return context;
}

tls_engine::tls_engine(asio::ssl::context& context) {
    BIO_METHOD* method = tls_bio::method();  // before the SSL object, which it would leak by throwing
    ssl_ = SSL_new(context.native_handle());
    BIO* bio = ssl_ ? BIO_new(method) : nullptr;
    if (bio == nullptr) {
        // With a context that works (the client made it), only an allocation fails here.
        SSL_free(ssl_);
        ERR_clear_error();
        throw std::bad_alloc();
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio);  // one BIO both ways; SSL owns it
    SSL_set_connect_state(ssl_);
    SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);  // a write never has to wait for a read
}

tls_engine::~tls_engine() { SSL_free(ssl_); }

bool tls_engine::verify_host(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    if (!ec) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) == 1;
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl_, host.c_str()) == 1;
}

asio::mutable_buffer tls_engine::input_space() {
    // A socket read that filled the space it was offered leaves more waiting (a burst): the next
    // space is twice as large, up to max_read_buffer, whether or not the buffer emptied since
    // (OpenSSL takes a whole record, up to 16 KiB, before it gives anything back, so a burst's
    // reads seldom leave it empty). Not during the handshake: its flight is a few KiB, and
    // thousands of connections may be shaking hands at once.
    if (input_filled_ && input_size_ < max_read_buffer && SSL_is_init_finished(ssl_)) {
        input_size_ = std::min(2 * input_size_, max_read_buffer);
        input_filled_ = false;
        if (input_) {  // unread bytes move to the front of the larger buffer
            const std::size_t left = input_end_ - input_begin_;
            memory::byte_buffer larger(input_size_);
            std::memcpy(larger.data(), input_.data() + input_begin_, left);
            input_ = std::move(larger);
            input_begin_ = 0;
            input_end_ = left;
        }
    }
    if (!input_) {
        input_ = memory::byte_buffer(input_size_);  // not zeroed: a read fills what it reports
        input_begin_ = input_end_ = 0;
    } else if (input_begin_ == input_end_) {
        input_begin_ = input_end_ = 0;
    } else if (input_end_ == input_size_) {  // unread bytes at the end: move them to the front
        std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
        input_end_ -= input_begin_;
        input_begin_ = 0;
    }
    input_offered_ = input_size_ - input_end_;
    return {input_.data() + input_end_, input_offered_};
}

void tls_engine::commit_input(std::size_t n) noexcept {
    input_end_ += n;
    input_filled_ = n == input_offered_ && 2 * input_offered_ >= input_size_;  // a few bytes after a partial record are no burst
}

int tls_engine::bio_read(char* out, int size) noexcept {
    const std::size_t available = input_end_ - input_begin_;
    if (available == 0) return eof_ ? 0 : -1;  // -1 with retry: "want input"; 0: end of file
    const std::size_t n = std::min(available, static_cast<std::size_t>(size));
    std::memcpy(out, input_.data() + input_begin_, n);
    input_begin_ += n;
    return static_cast<int>(n);
}

int tls_engine::bio_write(const char* data, int size) {
    output_.append(data, static_cast<std::size_t>(size));
    return size;
}

// The read buffer is held only while it has bytes: an idle or streaming connection between
// records holds none (OpenSSL's own record buffer is released the same way, SSL_MODE_RELEASE_BUFFERS).
void tls_engine::release_input_if_empty() noexcept {
    if (input_ && input_begin_ == input_end_) {
        input_.reset();
        input_begin_ = input_end_ = 0;
        // A read that did not fill its space ended the burst: the next read waits with the smallest
        // buffer. After one that did, input_space() makes the next one larger.
        if (!input_filled_) input_size_ = min_read_buffer;
    }
}

// `reading`: the call read (the handshake, SSL_read); a write never releases the read buffer (a
// socket read may be filling it meanwhile).
tls_engine::result tls_engine::outcome(int r, std::size_t bytes, bool reading) {
    if (r > 0) {
        if (reading) release_input_if_empty();
        return {want::done, {}, bytes};
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ && !eof_) return {want::input, {}, 0};
    if (reading) release_input_if_empty();
    if (e == SSL_ERROR_ZERO_RETURN) return {want::failed, asio::error::eof, 0};  // the peer's close_notify
    // What OpenSSL reported, as asio reports it; a connection closed without close_notify (or in
    // the middle of a record) is "stream truncated", as with asio::ssl::stream.
    const unsigned long code = ERR_peek_error();
    if (eof_ && (code == 0 || ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ERR_clear_error();
        return {want::failed, asio::ssl::error::stream_truncated, 0};
    }
    return {want::failed, take_openssl_error(), 0};
}

tls_engine::result tls_engine::handshake() {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    return outcome(r, 0, true);
}

tls_engine::result tls_engine::read(void* data, std::size_t size) {
    ERR_clear_error();
    const int want = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
    const int r = SSL_read(ssl_, data, want);
    return outcome(r, r > 0 ? static_cast<std::size_t>(r) : 0, true);
}

tls_engine::result tls_engine::write(const void* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        ERR_clear_error();
        const int piece = static_cast<int>(std::min<std::size_t>(size - done, INT_MAX));
        const int r = SSL_write(ssl_, static_cast<const char*>(data) + done, piece);
        if (r <= 0) {
            // WANT_READ here (a post-handshake message cut between records) is not waited for:
            // the reader may be reading meanwhile. Asio's stream read first; this one fails.
            result failed = outcome(r, 0, false);
            if (failed.next == want::input) failed = {want::failed, asio::ssl::error::unspecified_system_error, 0};
            return failed;
        }
        done += static_cast<std::size_t>(r);
    }
    return {want::done, {}, size};
}

}  // namespace llmstream::http
