#include "limits/redis_connection.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>

#include <hiredis/hiredis.h>

#include <array>
#include <optional>
#include <charconv>

namespace llmstream::limits {

namespace asio = boost::asio;
using boost::system::error_code;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

std::string parse_redis_url(std::string_view url, redis_address& out) {
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return "limits.redis is not a URL (expected redis://[:password@]host[:port][/db])";
    const auto& u = *parsed;
    if (u.scheme() != "redis" && u.scheme() != "rediss") return "limits.redis must start with redis:// or rediss://";
    if (u.host().empty()) return "limits.redis has no host";
    out = redis_address{};
    out.tls = u.scheme() == "rediss";
    out.host = u.host_type() == boost::urls::host_type::ipv6 ? std::string(u.encoded_host_address()) : std::string(u.host());
    if (u.has_port()) out.port = std::string(u.port());
    if (u.has_userinfo()) {
        out.user = std::string(u.user());
        out.password = std::string(u.password());
    }
    const std::string decoded_path = u.path();  // (a decoded copy: a view of it must not outlive it)
    std::string_view path = decoded_path;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    if (!path.empty()) {
        auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), out.db);
        if (ec != std::errc{} || p != path.data() + path.size() || out.db < 0)
            return "limits.redis: the path must be a database number (redis://host:port/0)";
    }
    return {};
}

std::string describe_failure(const error_code& ec, const redis_reply& reply) {
    if (ec == asio::error::timed_out) return "did not answer within limits.redis_timeout";
    if (ec == asio::error::access_denied) return "refused the credentials (AUTH) or the database (SELECT)";
    if (is_tls_error(ec)) return "failed the TLS handshake (" + ec.message() + ")";
    if (ec) return "could not be reached (" + ec.message() + ")";
    if (reply.type == redis_reply::kind::error)
        return "answered with an error (" + reply.str.substr(0, reply.str.find(' ')) + ")";
    return "answered with an unexpected reply";
}

namespace {

redis_reply copy_reply(const redisReply& r) {
    redis_reply out;
    switch (r.type) {
    case REDIS_REPLY_STRING: out.type = redis_reply::kind::string; break;
    case REDIS_REPLY_ARRAY: out.type = redis_reply::kind::array; break;
    case REDIS_REPLY_INTEGER: out.type = redis_reply::kind::integer; break;
    case REDIS_REPLY_STATUS: out.type = redis_reply::kind::status; break;
    case REDIS_REPLY_ERROR: out.type = redis_reply::kind::error; break;
    default: out.type = redis_reply::kind::nil; break;
    }
    out.integer = r.integer;
    if (r.str) out.str.assign(r.str, r.len);
    for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(copy_reply(*r.element[i]));
    return out;
}

}  // namespace

// A caller waiting for its reply. `internal`: AUTH or SELECT, whose error ends the connection.
struct redis_connection::pending {
    explicit pending(asio::any_io_executor ex) : timer(ex) {}
    asio::steady_timer timer;
    bool done = false;
    bool internal = false;
    error_code ec;
    redis_reply reply;
};

// One TCP connection and its reply parser; replaced as a whole when it fails.
struct redis_connection::link {
    explicit link(asio::any_io_executor ex) : socket(ex), resolver(ex), reader(redisReaderCreate()) {}
    ~link() {
        if (reader) redisReaderFree(reader);
    }
    tcp::socket socket;
    std::optional<asio::ssl::stream<tcp::socket&>> tls;  // rediss://, once connected
    tcp::resolver resolver;
    redisReader* reader;
    std::string out;  // formatted commands not yet written
    std::array<char, 16 * 1024> in;  // (not in the coroutine frame: GCC 12 mis-warns about large frames)
    bool connected = false;
    bool writing = false;
    bool reading = false;  // only while replies are expected: an idle connection holds no work
};

redis_connection::redis_connection(asio::any_io_executor ex, redis_address address, std::chrono::milliseconds timeout,
                                   asio::ssl::context* tls)
    : executor_(std::move(ex)), address_(std::move(address)), timeout_(timeout), tls_(tls) {}

redis_connection::~redis_connection() {
    if (link_) {
        error_code ignored;
        link_->socket.close(ignored);
        link_->resolver.cancel();
    }
}

void redis_connection::queue(const std::vector<std::string>& argv, std::shared_ptr<pending> p) {
    std::vector<const char*> args;
    std::vector<std::size_t> lengths;
    for (const auto& a : argv) {
        args.push_back(a.data());
        lengths.push_back(a.size());
    }
    char* command = nullptr;
    const int n = redisFormatCommandArgv(&command, static_cast<int>(args.size()), args.data(), lengths.data());
    if (n < 0 || !command) throw std::bad_alloc();
    link_->out.append(command, static_cast<std::size_t>(n));
    redisFreeCommand(command);
    pending_.push_back(std::move(p));
}

// Starts a new connection: AUTH and SELECT go first, pipelined with whatever follows.
void redis_connection::open() {
    link_ = std::make_shared<link>(executor_);
    if (!address_.password.empty()) {
        auto auth = std::make_shared<pending>(executor_);
        auth->internal = true;
        if (address_.user.empty()) queue({"AUTH", address_.password}, auth);
        else queue({"AUTH", address_.user, address_.password}, auth);
    }
    if (address_.db != 0) {
        auto select = std::make_shared<pending>(executor_);
        select->internal = true;
        queue({"SELECT", std::to_string(address_.db)}, select);
    }
    asio::co_spawn(executor_, run(shared_from_this(), link_), asio::detached);
}

asio::awaitable<error_code> redis_connection::call(std::vector<std::string> argv, redis_reply& reply) {
    if (!link_) open();
    auto p = std::make_shared<pending>(executor_);
    queue(argv, p);
    const auto l = link_;
    // The flags are set here, not in the coroutines: a second call must see them at once.
    if (l->connected && !l->writing) {
        l->writing = true;
        asio::co_spawn(executor_, write(shared_from_this(), l), asio::detached);
    }
    if (l->connected && !l->reading) {
        l->reading = true;
        asio::co_spawn(executor_, read(shared_from_this(), l), asio::detached);
    }
    p->timer.expires_after(timeout_);
    co_await p->timer.async_wait(use_tuple);
    if (!p->done) {  // too slow: Redis is not to be waited for
        fail_all(asio::error::timed_out);
        co_return asio::error::timed_out;
    }
    reply = std::move(p->reply);
    co_return p->ec;
}

void redis_connection::close() { fail_all(asio::error::operation_aborted); }

void redis_connection::fail_all(error_code ec) {
    if (link_) {
        error_code ignored;
        link_->socket.close(ignored);
        link_->resolver.cancel();
        link_.reset();
    }
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& p : failed) {
        p->done = true;
        p->ec = ec;
        p->timer.cancel();
    }
}

asio::awaitable<void> redis_connection::run(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l) {
    auto [rec, endpoints] = co_await l->resolver.async_resolve(self->address_.host, self->address_.port, use_tuple);
    if (self->link_ != l) co_return;  // closed meanwhile
    if (rec) {
        self->fail_all(rec);
        co_return;
    }
    auto [cec, ep] = co_await asio::async_connect(l->socket, endpoints, use_tuple);
    if (self->link_ != l) co_return;
    if (cec) {
        self->fail_all(cec);
        co_return;
    }
    l->socket.set_option(tcp::no_delay(true));
    if (self->address_.tls) {
        if (!self->tls_) {
            self->fail_all(asio::error::operation_not_supported);
            co_return;
        }
        l->tls.emplace(l->socket, *self->tls_);
        // SNI and the certificate's name: the host as written in the URL.
        SSL_set_tlsext_host_name(l->tls->native_handle(), self->address_.host.c_str());
        if (SSL_CTX_get_verify_mode(self->tls_->native_handle()) != SSL_VERIFY_NONE)
            l->tls->set_verify_callback(asio::ssl::host_name_verification(self->address_.host));
        auto [hec] = co_await l->tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
        if (self->link_ != l) co_return;
        if (hec) {
            self->fail_all(hec);
            co_return;
        }
    }
    l->connected = true;
    if (!l->out.empty() && !l->writing) {
        l->writing = true;
        asio::co_spawn(self->executor_, write(self, l), asio::detached);
    }
    l->reading = true;
    co_await read(self, l);
}

// Reads replies while some are expected, and hands each to the caller waiting for it.
asio::awaitable<void> redis_connection::read(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l) {
    while (!self->pending_.empty()) {
        auto [ec, n] = l->tls ? co_await l->tls->async_read_some(asio::buffer(l->in), use_tuple)
                              : co_await l->socket.async_read_some(asio::buffer(l->in), use_tuple);
        if (self->link_ != l) co_return;
        if (ec) {
            self->fail_all(ec);
            co_return;
        }
        if (redisReaderFeed(l->reader, l->in.data(), n) != REDIS_OK) {
            self->fail_all(asio::error::invalid_argument);
            co_return;
        }
        for (;;) {
            void* raw = nullptr;
            if (redisReaderGetReply(l->reader, &raw) != REDIS_OK) {
                self->fail_all(asio::error::invalid_argument);  // not the Redis protocol
                co_return;
            }
            if (!raw) break;
            redis_reply reply = copy_reply(*static_cast<redisReply*>(raw));
            freeReplyObject(raw);
            if (self->pending_.empty()) {  // a reply nobody asked for
                self->fail_all(asio::error::invalid_argument);
                co_return;
            }
            auto p = std::move(self->pending_.front());
            self->pending_.pop_front();
            if (p->internal && reply.type == redis_reply::kind::error) {
                self->fail_all(asio::error::access_denied);  // AUTH or SELECT refused
                co_return;
            }
            p->done = true;
            p->reply = std::move(reply);
            p->timer.cancel();
        }
    }
    l->reading = false;
}

asio::awaitable<void> redis_connection::write(std::shared_ptr<redis_connection> self, std::shared_ptr<link> l) {
    while (!l->out.empty() && self->link_ == l) {
        std::string bytes = std::move(l->out);
        l->out.clear();
        auto [ec, n] = l->tls ? co_await asio::async_write(*l->tls, asio::buffer(bytes), use_tuple)
                              : co_await asio::async_write(l->socket, asio::buffer(bytes), use_tuple);
        if (self->link_ != l) break;
        if (ec) {
            self->fail_all(ec);
            break;
        }
    }
    l->writing = false;
}

}  // namespace llmstream::limits
