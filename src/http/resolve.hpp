// Host name resolution under a deadline, and cancellable at once.
//
// asio's resolver runs getaddrinfo on a private thread, and cancelling it cannot interrupt a
// lookup already running: a request waiting on it would wait out the system resolver's own
// timeouts (5 s per server and attempt by default), past its connect timeout, its deadline and
// its cancel(). So the lookup runs detached and the request waits on a timer instead: at the
// deadline, or on cancel(), it moves on, and the lookup's late answer lands in state that only
// the lookup still holds. Giving up also cancels the lookup, which spares lookups still queued
// behind it (asio runs one at a time per io_context); the one already inside getaddrinfo runs
// to its end, and until then io_context::run() has work and does not return.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace llmstream::http {

class deadline_resolver {
public:
    using results_type = boost::asio::ip::tcp::resolver::results_type;
    using handler_type = std::function<void(boost::system::error_code, results_type)>;
    /// Starts a lookup of host:port that calls the handler once, later, on the executor, and
    /// returns what cancels it (or nothing). The default one is asio's resolver; tests pass one
    /// that answers late or never.
    using lookup_fn = std::function<std::function<void()>(boost::asio::any_io_executor, const std::string& host,
                                                          const std::string& port, handler_type)>;

    explicit deadline_resolver(boost::asio::any_io_executor ex, lookup_fn lookup = {});

    /// asio's lookup, except that a host found in `pinned` (host -> IP literal; hosts match
    /// without regard to case) answers with that address at once, without a lookup.
    static lookup_fn pinned_lookup(std::vector<std::pair<std::string, std::string>> pinned);

    /// Completes with the lookup's results or error; with `timeout` when `deadline` comes first;
    /// with operation_aborted when cancel() is called. One resolve at a time.
    boost::asio::awaitable<std::tuple<boost::system::error_code, results_type>> resolve(
        std::string host, std::string port, std::chrono::steady_clock::time_point deadline,
        boost::system::error_code timeout);

    /// Ends a resolve() in progress at once, with operation_aborted.
    void cancel();

private:
    struct lookup_state;
    boost::asio::any_io_executor executor_;
    lookup_fn lookup_;
    std::shared_ptr<lookup_state> current_;
};

}  // namespace llmstream::http
