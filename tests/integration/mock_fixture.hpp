// Integration-test support: an in-process llmstream-mock on its own thread, and a bounded runner
// for coroutine tests on the test's io_context.
#pragma once

#include <llmstream/mock/server.hpp>

#include <llmstream/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <exception>
#include <string_view>
#include <thread>

namespace llmstream::testing {

/// The suite runs twice: over HTTP/1.1, and with LLMSTREAM_TEST_HTTP=2 over HTTP/2 (h2c with
/// prior knowledge to the mock). Tests whose expectations differ by protocol ask this.
inline bool testing_http2() {
    const char* v = std::getenv("LLMSTREAM_TEST_HTTP");
    return v && std::string_view(v) == "2";
}
inline http_version tested_http_version() { return testing_http2() ? http_version::http2 : http_version::http1; }

class mock_fixture {
public:
    explicit mock_fixture(mock::options opts = {})
        : server_(std::make_unique<mock::server>(server_io_.get_executor(), opts)) {
        server_->start();
        thread_ = std::thread([this] { server_io_.run(); });
    }
    ~mock_fixture() {
        server_->stop();
        work_.reset();
        thread_.join();
    }

    unsigned short port() const { return server_->port(); }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/v1"; }
    std::string native_base_url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/api/v1"; }
    mock::stats counters() const { return server_->counters(); }

    /// Closes every connection the server holds (as a server restarting would) and keeps serving.
    void drop_connections() {
        const unsigned short p = port();
        server_->stop();
        // stop() runs on the server thread; wait until the port is free, then listen again.
        for (int i = 0; i < 200; ++i) {
            try {
                auto next = std::make_unique<mock::server>(server_io_.get_executor(), mock::options{"127.0.0.1", p});
                next->start();
                old_.push_back(std::move(server_));
                server_ = std::move(next);
                return;
            } catch (const std::exception&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        FAIL("could not restart the mock server on port " << p);
    }

    client_config config(api_dialect dialect = api_dialect::openai_compatible) const {
        client_config c = providers::custom(dialect == api_dialect::openai_compatible ? base_url() : native_base_url(),
                                            "test-key", dialect);
        c.timeouts.total = std::chrono::seconds(30);
        c.retry.max_retries = 0;  // one attempt per request unless a test is about retrying
        c.http = tested_http_version();
        return c;
    }

private:
    boost::asio::io_context server_io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{server_io_.get_executor()};
    std::unique_ptr<mock::server> server_;
    std::vector<std::unique_ptr<mock::server>> old_;
    std::thread thread_;
};

/// An HTTPS llmstream-mock on its own thread, serving the given certificate and key.
class tls_mock_fixture {
public:
    tls_mock_fixture(const std::string& cert_file, const std::string& key_file, bool http1_only = false)
        : server_(io_.get_executor(), mock::options{"127.0.0.1", 0, cert_file, key_file, http1_only}) {
        server_.start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~tls_mock_fixture() {
        server_.stop();
        work_.reset();
        thread_.join();
    }
    unsigned short port() const { return server_.port(); }
    /// https://localhost:port/v1 (the test CA's certificates are for DNS:localhost).
    std::string base_url() const { return "https://localhost:" + std::to_string(port()) + "/v1"; }
    mock::stats counters() const { return server_.counters(); }

private:
    boost::asio::io_context io_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
    mock::server server_;
    std::thread thread_;
};

/// Runs `make()`'s coroutine on `io` until it finishes; fails the test after `limit`.
template <class MakeAwaitable>
void run_test(boost::asio::io_context& io, MakeAwaitable make, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::exception_ptr failure;
    bool done = false;
    bool timed_out = false;
    io.restart();  // an earlier run may have left it stopped (run/poll stop when work runs out)
    boost::asio::co_spawn(io, make(), [&](std::exception_ptr e) {
        failure = e;
        done = true;
    });
    boost::asio::steady_timer guard(io, limit);
    guard.async_wait([&](boost::system::error_code ec) { timed_out = !ec; });
    while (!done && !timed_out && io.run_one() != 0) {
    }
    guard.cancel();
    io.restart();
    io.poll();  // let cancelled operations finish
    INFO("timed out: " << timed_out);
    REQUIRE(done);
    if (failure) std::rethrow_exception(failure);
}

inline chat_request mock_request(std::string model) {
    chat_request r;
    r.model = std::move(model);
    r.messages = {{"user", "hello"}};
    return r;
}

}  // namespace llmstream::testing
