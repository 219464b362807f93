// TLS over a beast::tcp_stream, with OpenSSL reading and writing through a BIO of our own: the
// ciphertext read from the socket waits in one small buffer (1 KiB, up to 32 KiB in a burst,
// held only while a read needs it) and what OpenSSL writes goes to one output string, sent as one
// socket write. asio::ssl::stream
// keeps four 17 KiB buffers per connection (its own two and a BIO pair's), ~68 KiB that thousands
// of streaming connections paid for nothing (the transport issue's memory-per-connection goal).
//
// The TLS state machine is OpenSSL's; `tls_engine` is the sans-IO part (what to send, what was
// read, what an OpenSSL result means), `tls_stream` the thin driver that does the socket I/O.
// One read and one write may be in progress at once (HTTP/2's reader and writer), as with asio.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include <openssl/ssl.h>

#include <llmstream/config.hpp>

#include "memory/buffer_cache.hpp"

namespace llmstream::http {

/// OpenSSL's error queue (this thread's), taken and cleared, as one error code: its first error,
/// as asio reports it; asio::error::no_memory when an allocation failed anywhere in it (OpenSSL
/// then often reports what the failed step was doing, "malloc failure" of some library or a
/// decode error after it); unspecified_system_error when it is empty.
boost::system::error_code take_openssl_error();

/// The TLS client context of our connections (to the provider, to Redis): TLS 1.2 at least,
/// record buffers freed while idle, the system's trust store and `tls.ca_file`, peers verified
/// per `tls.verify_peer`. The trusted certificates are checked once here (see the definition).
/// Throws std::invalid_argument when `tls.ca_file` cannot be loaded (naming it and why), and
/// std::bad_alloc when memory runs out: a context that is made trusts every certificate it loaded.
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const tls_options& tls);

/// The sans-IO half: one SSL object and its buffers. Every call returns what the driver must do.
class tls_engine {
public:
    /// The read buffer's sizes: 1 KiB while a stream is read as it is generated (records of a few
    /// hundred bytes; every open connection holds it while its read waits), and twice the last one
    /// whenever a socket read filled it (a burst: the rest is already there), up to 32 KiB.
    static constexpr std::size_t min_read_buffer = 1024, max_read_buffer = 32 * 1024;

    explicit tls_engine(boost::asio::ssl::context& context);
    ~tls_engine();
    tls_engine(const tls_engine&) = delete;
    tls_engine& operator=(const tls_engine&) = delete;

    SSL* native_handle() const noexcept { return ssl_; }
    /// During the handshake, checks that the peer's certificate names `host` (a DNS name or an IP
    /// address). False when OpenSSL refused it.
    bool verify_host(const std::string& host);

    /// What an OpenSSL call left to do.
    enum class want {
        done,   ///< finished (see the result)
        input,  ///< more ciphertext from the socket (read it into input_space, then commit_input)
        failed  ///< see the error
    };
    struct result {
        want next = want::done;
        boost::system::error_code ec{};
        std::size_t bytes = 0;  ///< plaintext read or written
    };

    result handshake();
    result read(void* data, std::size_t size);
    /// Encrypts all of `data` into the output (OpenSSL writes never wait: the output takes all).
    result write(const void* data, std::size_t size);

    /// Ciphertext to send, in order: take it all, send it, then sent().
    bool has_output() const noexcept { return !output_.empty(); }
    std::string& take_output(std::string& sending) noexcept {
        sending.swap(output_);
        return sending;
    }

    /// Where to read the socket into (allocated on demand; the space left after unread bytes).
    boost::asio::mutable_buffer input_space();
    void commit_input(std::size_t n) noexcept;
    /// The socket reached end of file: OpenSSL sees it once the buffered bytes are consumed.
    void commit_eof() noexcept { eof_ = true; }
    bool eof() const noexcept { return eof_; }
    /// The size of the read buffer in use, or of the next one when none is held.
    std::size_t input_buffer_size() const noexcept { return input_size_; }

private:
    friend struct tls_bio;
    int bio_read(char* out, int size) noexcept;
    int bio_write(const char* data, int size);
    result outcome(int r, std::size_t bytes, bool reading);
    void release_input_if_empty() noexcept;

    SSL* ssl_ = nullptr;
    memory::byte_buffer input_;  // a burst's large buffer goes back to the cache (see buffer_cache.hpp)
    std::size_t input_size_ = min_read_buffer;  // of input_, or of the next one
    std::size_t input_offered_ = 0;             // the space the last socket read was given
    bool input_filled_ = false;                 // and it filled all of it
    std::size_t input_begin_ = 0, input_end_ = 0;
    bool eof_ = false;
    std::string output_;
};

/// The driver: an AsyncReadStream and AsyncWriteStream (Beast's HTTP reads and writes, HTTP/2's
/// reader and writer), with the handshake. Timeouts are the tcp_stream's, unless reads go to the
/// socket directly (below).
class tls_stream {
public:
    using next_layer_type = boost::beast::tcp_stream;
    using executor_type = next_layer_type::executor_type;

    tls_stream(boost::asio::any_io_executor ex, boost::asio::ssl::context& context)
        : tcp_(ex), engine_(context), write_done_(ex) {}

    executor_type get_executor() noexcept { return tcp_.get_executor(); }
    next_layer_type& next_layer() noexcept { return tcp_; }
    /// While on, reads go to the socket itself, not through the tcp_stream and its timer: for a
    /// caller that keeps time itself and leaves the timer unarmed (the h1 exchange's watchdog
    /// during a body; an h2 session, always).
    void read_socket_directly(bool on) noexcept { read_socket_directly_ = on; }
    SSL* native_handle() const noexcept { return engine_.native_handle(); }
    std::size_t input_buffer_size() const noexcept { return engine_.input_buffer_size(); }
    bool verify_host(const std::string& host) { return engine_.verify_host(host); }

    template <class Token>
    auto async_handshake(Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            io_op<handshake_step>{*this, {}}, token, tcp_);
    }
    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        const boost::asio::mutable_buffer first = first_buffer(buffers);
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            io_op<read_step>{*this, {first}}, token, tcp_);
    }
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
            io_op<write_step<ConstBuffers>>{*this, {buffers}}, token, tcp_);
    }

private:
    template <class Buffers>
    static boost::asio::mutable_buffer first_buffer(const Buffers& buffers) {
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it)
            if (boost::asio::mutable_buffer(*it).size() != 0) return *it;
        return {};
    }

    // What each operation asks of the engine; the driver below does the socket I/O around it.
    struct handshake_step {
        tls_engine::result operator()(tls_engine& e) { return e.handshake(); }
        static constexpr bool waits_for_output = true;
    };
    struct read_step {
        boost::asio::mutable_buffer into;
        tls_engine::result operator()(tls_engine& e) {
            if (into.size() == 0) return {};
            return e.read(into.data(), into.size());
        }
        static constexpr bool waits_for_output = false;
    };
    // Every piece of the sequence (up to 64 KiB in all) goes through one stack chunk into full
    // records and one socket write: Beast hands a request's head over as a dozen small buffers,
    // and a record each cost a dozen SSL_write calls (a tenth of an h1 TLS request's CPU).
    template <class ConstBuffers>
    struct write_step {
        static constexpr std::size_t max_bytes = 64 * 1024, chunk_size = 16 * 1024;  // a full record
        ConstBuffers buffers;
        std::size_t total = 0;
        bool encrypted = false;
        tls_engine::result operator()(tls_engine& e) {
            if (encrypted) return {tls_engine::want::done, {}, total};
            encrypted = true;
            char chunk[chunk_size];
            std::size_t used = 0;
            for (auto it = boost::asio::buffer_sequence_begin(buffers);
                 it != boost::asio::buffer_sequence_end(buffers) && total < max_bytes; ++it) {
                const boost::asio::const_buffer b(*it);
                const char* data = static_cast<const char*>(b.data());
                std::size_t left = std::min(b.size(), max_bytes - total);
                total += left;
                while (left > 0) {
                    if (used == 0 && left >= chunk_size) {  // a whole record straight from the piece
                        if (auto r = e.write(data, chunk_size); r.next != tls_engine::want::done) return r;
                        data += chunk_size, left -= chunk_size;
                        continue;
                    }
                    const std::size_t n = std::min(left, chunk_size - used);
                    std::memcpy(chunk + used, data, n);
                    used += n, data += n, left -= n;
                    if (used == chunk_size) {
                        if (auto r = e.write(chunk, used); r.next != tls_engine::want::done) return r;
                        used = 0;
                    }
                }
            }
            if (used > 0)
                if (auto r = e.write(chunk, used); r.next != tls_engine::want::done) return r;
            return {tls_engine::want::done, {}, total};
        }
        static constexpr bool waits_for_output = true;
    };

    // One operation: run the step; send what it produced (the handshake and writes wait until it
    // is sent; a read leaves it to the writer in progress, if any); read the socket when the
    // engine wants input; run the step again.
    template <class Step>
    struct io_op {
        tls_stream& s;
        Step step;
        enum { starting, after_write, after_read, after_wait } state = starting;
        tls_engine::result last{};

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
            switch (state) {
            case starting:
                last = step(s.engine_);
                break;
            case after_write:
                s.writing_ = false;
                if (s.sending_.capacity() > 16 * 1024) std::string().swap(s.sending_);  // after a large request
                else s.sending_.clear();
                s.write_done_.cancel();  // wakes an operation waiting for the socket's write side
                if (ec) return complete(self, ec);
                break;
            case after_read:
                if (ec == boost::asio::error::eof) {
                    s.engine_.commit_eof();
                } else if (ec) {
                    return complete(self, ec);
                } else {
                    s.engine_.commit_input(n);
                }
                last = step(s.engine_);
                break;
            case after_wait:
                break;
            }
            // Output first: the peer may be waiting for it before it sends what we want to read.
            if (s.engine_.has_output() || (Step::waits_for_output && s.writing_)) {
                if (!s.writing_) {
                    state = after_write;
                    s.writing_ = true;
                    // Not cancellable (the operation's cancellation stops its reads): a record cut
                    // in half would break the stream.
                    boost::asio::async_write(s.tcp_, boost::asio::buffer(s.engine_.take_output(s.sending_)),
                                             boost::asio::bind_cancellation_slot(boost::asio::cancellation_slot(),
                                                                                 std::move(self)));
                    return;
                }
                if (Step::waits_for_output) {
                    state = after_wait;
                    s.write_done_.expires_at(boost::asio::steady_timer::time_point::max());
                    s.write_done_.async_wait(std::move(self));
                    return;
                }
                // A read: the writer in progress sends it when its own write completes.
            }
            switch (last.next) {
            case tls_engine::want::done:
                return complete(self, {}, last.bytes);
            case tls_engine::want::failed:
                return complete(self, last.ec);
            case tls_engine::want::input:
                // Cancelled since its last socket read was started (while it wrote, or while that
                // read's completion waited to run): it stops before reading again.
                if (self.cancelled() != boost::asio::cancellation_type::none)
                    return complete(self, boost::asio::error::operation_aborted);
                state = after_read;
                if (s.read_socket_directly_) s.tcp_.socket().async_read_some(s.engine_.input_space(), std::move(self));
                else s.tcp_.async_read_some(s.engine_.input_space(), std::move(self));
                return;
            }
        }

        template <class Self>
        void complete(Self& self, boost::system::error_code ec, std::size_t bytes = 0) {
            if constexpr (std::is_same_v<Step, handshake_step>)
                self.complete(ec);
            else
                self.complete(ec, bytes);
        }
    };

    boost::beast::tcp_stream tcp_;
    tls_engine engine_;
    std::string sending_;         // ciphertext being written to the socket
    bool writing_ = false;        // a socket write is in progress (sending_)
    bool read_socket_directly_ = false;
    boost::asio::steady_timer write_done_;  // cancelled when it completes
};

}  // namespace llmstream::http
