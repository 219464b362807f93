// One pipelined connection to Redis, driven on the client's executor: hiredis 0.14 formats the
// commands and parses the replies (its sans-IO redisFormatCommandArgv and redisReader), asio
// moves the bytes. Every call has the same short timeout; a timeout or any failure closes the
// connection and fails what is pending, and the next call connects again. Between calls nothing is
// read (an idle connection holds no work on the executor, so io_context::run can return); Redis
// does not close idle clients unless configured to (its `timeout`, 0 by default): if it does, the
// next call fails and the limits are decided locally for a second. hiredis stays in the .cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmstream::limits {

/// Where Redis is: redis://[[user]:password@]host[:port][/db], or rediss:// over TLS.
struct redis_address {
    bool tls = false;
    std::string host;
    std::string port = "6379";
    std::string user;
    std::string password;  ///< never printed
    int db = 0;
    std::string shown() const { return host + ":" + port; }
};

/// Parses a redis:// URL. Returns "" on success, else what is wrong (never the password).
std::string parse_redis_url(std::string_view url, redis_address& out);

/// A reply, copied out of hiredis's.
struct redis_reply {
    enum class kind { string, array, integer, nil, status, error } type = kind::nil;
    long long integer = 0;
    std::string str;  ///< string, status and error replies
    std::vector<redis_reply> elements;
};

/// Why a call failed, for notes: "did not answer within limits.redis_timeout", "refused the
/// credentials", ... (never a secret: an error reply gives only its first word, e.g. NOSCRIPT).
std::string describe_failure(const boost::system::error_code& ec, const redis_reply& reply);

class redis_connection : public std::enable_shared_from_this<redis_connection> {
public:
    /// `tls`: the TLS context for rediss:// (certificate checks as the client's tls_options say).
    redis_connection(boost::asio::any_io_executor ex, redis_address address, std::chrono::milliseconds timeout,
                     boost::asio::ssl::context* tls = nullptr);
    ~redis_connection();

    /// Sends one command, pipelined behind any others, and waits for its reply at most the
    /// timeout. Errors: timed_out, a connection failure, or an AUTH/SELECT refusal (as
    /// access_denied). An error reply is a reply (kind::error), not an error code.
    boost::asio::awaitable<boost::system::error_code> call(std::vector<std::string> argv, redis_reply& reply);

    /// Closes the connection; what is pending fails with operation_aborted.
    void close();

private:
    struct pending;
    struct link;

    void open();
    void queue(const std::vector<std::string>& argv, std::shared_ptr<pending> p);
    void fail_all(boost::system::error_code ec);
    static boost::asio::awaitable<void> run(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l);
    static boost::asio::awaitable<void> write(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l);
    static boost::asio::awaitable<void> read(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l);

    boost::asio::any_io_executor executor_;
    redis_address address_;
    std::chrono::milliseconds timeout_;
    boost::asio::ssl::context* tls_;
    std::shared_ptr<link> link_;  // the current connection, or null
    std::deque<std::shared_ptr<pending>> pending_;  // replies expected, in order
};

}  // namespace llmstream::limits
