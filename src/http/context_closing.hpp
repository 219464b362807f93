// Whether an execution context (an io_context) is being destroyed.
//
// Asio 1.81 destroys a coroutine without resuming it in two cases: when an operation fails to
// start inside it (an allocation; the exception leaves io_context::run()), and when its context
// is destroyed while it waits. The guards that end a request or a connection in the first case
// must do nothing in the second: the pool, the observer and the reader may be gone by then.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

namespace llmstream::http {

class context_closing : public boost::asio::execution_context::service {
public:
    using key_type = context_closing;
    static inline boost::asio::execution_context::id id;

    explicit context_closing(boost::asio::execution_context& ctx) : service(ctx) {}

    /// The service of `ex`'s context. Services shut down in the reverse order of their creation,
    /// and the scheduler, made by io_context's constructor, comes last. The frames of waiting
    /// coroutines are destroyed there: a destroyed operation's awaitable_thread posts its stack's
    /// destruction, and the scheduler's shutdown destroys what is queued. So this service,
    /// created later, always knows by then.
    static const context_closing& of(const boost::asio::any_io_executor& ex) {
        return boost::asio::use_service<context_closing>(boost::asio::query(ex, boost::asio::execution::context));
    }

    bool closing() const noexcept { return closing_; }

private:
    void shutdown() override { closing_ = true; }
    bool closing_ = false;
};

}  // namespace llmstream::http
