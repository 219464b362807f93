// Failures as exceptions that tell the whole story. `llmstream::with_diagnostics(token)` adapts a
// completion token of llmstream's operations (async_next, async_chat): a failure arrives as an
// `error_with_diagnostics` (a std::system_error-compatible boost::system::system_error carrying a
// copy of the request's diagnostics) in place of the bare error_code, so
//
//   try { co_await s.async_next(); } catch (const llmstream::error_with_diagnostics& e) { ... }
//
// says the class, status, provider code, request id, attempts and the hint in `e.what()`. It is
// the default token of those operations (with asio::use_awaitable inside: Boost 1.81 cannot co_await
// a deferred operation whose signature starts with exception_ptr): `co_await s.async_next()` throws
// it. Pass asio::as_tuple(asio::deferred), a callback or any other token to get the error_code
// instead (as_tuple(deferred) is also the cheapest form: no coroutine frame per call).
#pragma once

#include <llmstream/diagnostics.hpp>

#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace llmstream {

/// A failed llmstream operation: `code()` is the error, `diagnostics()` what was known about it,
/// `what()` the same paragraph as `diagnostics::to_string(code())` (the CLI's text; never a secret).
class error_with_diagnostics : public boost::system::system_error {
public:
    error_with_diagnostics(boost::system::error_code ec, llmstream::diagnostics diag);
    const llmstream::diagnostics& diagnostics() const noexcept { return state_->diag; }
    const char* what() const noexcept override { return state_->text.c_str(); }

private:
    struct state {
        llmstream::diagnostics diag;
        std::string text;
    };
    std::shared_ptr<const state> state_;  // shared: exceptions are copied
};

/// The token adapter: see the header comment.
template <class CompletionToken>
struct with_diagnostics_t {
    CompletionToken token;
};

template <class CompletionToken>
constexpr with_diagnostics_t<std::decay_t<CompletionToken>> with_diagnostics(CompletionToken&& token) {
    return {std::forward<CompletionToken>(token)};
}

/// The default completion token of llmstream's async operations: `co_await op()` in an
/// asio::awaitable coroutine returns the value or throws error_with_diagnostics.
using default_token = with_diagnostics_t<boost::asio::use_awaitable_t<>>;

namespace detail {

/// Turns (error_code, T) into (exception_ptr, T), taking the diagnostics from `diag` when it fails.
template <class Handler>
struct diagnostics_handler {
    Handler handler;
    std::shared_ptr<const llmstream::diagnostics> diag;

    template <class T>
    void operator()(boost::system::error_code ec, T&& value) {
        std::exception_ptr failure;
        if (ec) failure = std::make_exception_ptr(error_with_diagnostics(ec, diag ? *diag : llmstream::diagnostics{}));
        diag.reset();
        std::move(handler)(std::move(failure), std::forward<T>(value));
    }
};

}  // namespace detail
}  // namespace llmstream

template <class CompletionToken, class T>
struct boost::asio::async_result<llmstream::with_diagnostics_t<CompletionToken>, void(boost::system::error_code, T)> {
    // llmstream's initiations say where their diagnostics are (`diagnostics_source(args...)`).
    template <class Initiation>
    struct init_wrapper {
        Initiation initiation;
        template <class Handler, class... Args>
        void operator()(Handler&& handler, Args&&... args) {
            auto diag = initiation.diagnostics_source(args...);
            std::move(initiation)(
                llmstream::detail::diagnostics_handler<std::decay_t<Handler>>{std::forward<Handler>(handler),
                                                                              std::move(diag)},
                std::forward<Args>(args)...);
        }
    };

    template <class Initiation, class RawToken, class... Args>
    static auto initiate(Initiation&& initiation, RawToken&& token, Args&&... args) {
        return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, T)>(
            init_wrapper<std::decay_t<Initiation>>{std::forward<Initiation>(initiation)},
            token.token, std::forward<Args>(args)...);  // asio 1.81 takes the inner token as an lvalue
    }
};

// The adapted handler keeps the inner handler's executor, allocator and cancellation slot.
template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, llmstream::detail::diagnostics_handler<Handler>, DefaultCandidate>
    : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const llmstream::detail::diagnostics_handler<Handler>& h) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler);
    }
    static auto get(const llmstream::detail::diagnostics_handler<Handler>& h, const DefaultCandidate& c) noexcept
        -> decltype(Associator<Handler, DefaultCandidate>::get(h.handler, c)) {
        return Associator<Handler, DefaultCandidate>::get(h.handler, c);
    }
};
