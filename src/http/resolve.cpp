#include "resolve.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cctype>
#include <cstdlib>
#include <utility>

namespace llmstream::http {

namespace asio = boost::asio;
using boost::system::error_code;

// Shared by the waiting request and the lookup's handler: whichever finishes last frees it.
struct deadline_resolver::lookup_state {
    explicit lookup_state(asio::any_io_executor ex) : wake(std::move(ex)) {}
    asio::steady_timer wake;  // the request waits on it; the lookup's answer and cancel() wake it
    bool answered = false;
    bool cancelled = false;
    error_code ec;
    results_type results;
};

namespace {

// asio builds a lookup's results on the io_context's thread, as it completes; when that
// allocation fails, the exception leaves io_context::run() and the handler is dropped uncalled.
// This one answers then, as it goes, with no_memory: the request would wait out its deadline.
class answers_once {
public:
    answers_once(std::shared_ptr<asio::ip::tcp::resolver> r, deadline_resolver::handler_type h)
        : resolver_(std::move(r)), handler_(std::move(h)) {}
    answers_once(answers_once&& o) noexcept
        : resolver_(std::move(o.resolver_)), handler_(std::exchange(o.handler_, nullptr)) {}
    answers_once& operator=(answers_once&&) = delete;
    ~answers_once() {
        if (!handler_) return;
        try {
            handler_(asio::error::no_memory, {});
        } catch (...) {  // a destructor: nothing may leave it
        }
    }
    void operator()(error_code ec, deadline_resolver::results_type r) {
        std::exchange(handler_, nullptr)(ec, std::move(r));
    }

private:
    std::shared_ptr<asio::ip::tcp::resolver> resolver_;  // alive until the answer
    deadline_resolver::handler_type handler_;
};

std::function<void()> asio_lookup(asio::any_io_executor ex, const std::string& host, const std::string& port,
                                  deadline_resolver::handler_type handler) {
    auto resolver = std::make_shared<asio::ip::tcp::resolver>(ex);
    resolver->async_resolve(host, port, answers_once(resolver, std::move(handler)));
    return [weak = std::weak_ptr<asio::ip::tcp::resolver>(resolver)] {
        if (auto r = weak.lock()) r->cancel();
    };
}

}  // namespace

deadline_resolver::lookup_fn deadline_resolver::pinned_lookup(std::vector<std::pair<std::string, std::string>> pinned) {
    if (pinned.empty()) return lookup_fn(asio_lookup);
    for (auto& entry : pinned)
        for (char& c : entry.first) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return [pinned = std::move(pinned)](asio::any_io_executor ex, const std::string& host, const std::string& port,
                                        handler_type handler) -> std::function<void()> {
        std::string lower(host);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const auto& [name, address] : pinned) {
            if (name != lower) continue;
            error_code ec;
            const auto ip = asio::ip::make_address(address, ec);
            const unsigned long port_number = std::strtoul(port.c_str(), nullptr, 10);
            results_type results;
            if (!ec) results = results_type::create(asio::ip::tcp::endpoint(ip, static_cast<unsigned short>(port_number)), host, port);
            // Answered later, never inline, like a real lookup.
            asio::post(ex, [h = std::move(handler), ec, results = std::move(results)]() mutable { h(ec, std::move(results)); });
            return {};
        }
        return asio_lookup(std::move(ex), host, port, std::move(handler));
    };
}

deadline_resolver::deadline_resolver(asio::any_io_executor ex, lookup_fn lookup)
    : executor_(std::move(ex)), lookup_(lookup ? std::move(lookup) : lookup_fn(asio_lookup)) {}

asio::awaitable<std::tuple<error_code, deadline_resolver::results_type>> deadline_resolver::resolve(
    std::string host, std::string port, std::chrono::steady_clock::time_point deadline, error_code timeout) {
    auto state = std::make_shared<lookup_state>(executor_);
    current_ = state;
    state->wake.expires_at(deadline);
    const std::function<void()> cancel_lookup = lookup_(executor_, host, port, [state](error_code ec, results_type results) {
        if (state->answered) return;  // a lookup that answers twice is ignored the second time
        state->answered = true;
        state->ec = ec;
        state->results = std::move(results);
        state->wake.cancel();
    });
    if (!state->answered && !state->cancelled) co_await state->wake.async_wait(asio::as_tuple(asio::deferred));
    current_.reset();
    if (!state->answered && cancel_lookup) cancel_lookup();  // given up on: spare what is queued behind it
    if (state->cancelled) co_return std::tuple{error_code(asio::error::operation_aborted), results_type{}};
    if (state->answered) co_return std::tuple{state->ec, std::move(state->results)};
    co_return std::tuple{timeout, results_type{}};
}

void deadline_resolver::cancel() {
    if (!current_) return;
    current_->cancelled = true;
    current_->wake.cancel();
}

}  // namespace llmstream::http
