// One streaming generation: pull deltas with async_next until it completes with "no more".
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/events.hpp>
#include <llmstream/with_diagnostics.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <iterator>
#include <memory>
#include <type_traits>

namespace llmstream {

/// The deltas that were ready at one wake-up, in order (see stream::async_next_batch). A view:
/// valid until the next async_next or async_next_batch on the stream, or its destruction.
class delta_batch {
public:
    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = delta;
        using difference_type = std::ptrdiff_t;
        using pointer = const delta*;
        using reference = const delta&;
        iterator() = default;
        explicit iterator(const delta* const* at) noexcept : at_(at) {}
        reference operator*() const noexcept { return **at_; }
        pointer operator->() const noexcept { return *at_; }
        iterator& operator++() noexcept {
            ++at_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator before = *this;
            ++at_;
            return before;
        }
        bool operator==(const iterator&) const noexcept = default;

    private:
        const delta* const* at_ = nullptr;
    };

    delta_batch() = default;
    delta_batch(const delta* const* items, std::size_t size) noexcept : items_(items), size_(size) {}
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const delta& operator[](std::size_t i) const noexcept { return *items_[i]; }
    iterator begin() const noexcept { return iterator(items_); }
    iterator end() const noexcept { return iterator(items_ + size_); }

private:
    const delta* const* items_ = nullptr;
    std::size_t size_ = 0;
};

namespace detail {
class stream_impl;
using next_handler = boost::asio::any_completion_handler<void(boost::system::error_code, const delta*)>;
void initiate_next(const std::shared_ptr<stream_impl>& impl, next_handler handler, bool on_stream_executor);
std::shared_ptr<const diagnostics> stream_diagnostics(const std::shared_ptr<stream_impl>& impl);
bool is_stream_executor(const std::shared_ptr<stream_impl>& impl, const boost::asio::any_io_executor& ex);

/// Whether the handler's own executor is the stream's (a coroutine on the client's executor, the
/// common case). Asked here, where the handler's type is known: once type-erased, asking for its
/// executor costs an allocation, and every delta's completion asked.
template <class Handler>
bool on_stream_executor(const Handler& handler, const std::shared_ptr<stream_impl>& impl) {
    if constexpr (std::is_same_v<boost::asio::associated_executor_t<Handler>, boost::asio::any_io_executor>)
        return is_stream_executor(impl, boost::asio::get_associated_executor(handler));
    else
        return false;
}

struct next_initiation {
    template <class Handler>
    void operator()(Handler&& handler, const std::shared_ptr<stream_impl>& impl) const {
        const bool on_stream = on_stream_executor(handler, impl);
        initiate_next(impl, next_handler(std::forward<Handler>(handler)), on_stream);
    }
    std::shared_ptr<const diagnostics> diagnostics_source(const std::shared_ptr<stream_impl>& impl) const {
        return stream_diagnostics(impl);
    }
};

using batch_handler = boost::asio::any_completion_handler<void(boost::system::error_code, delta_batch)>;
void initiate_next_batch(const std::shared_ptr<stream_impl>& impl, batch_handler handler, bool on_stream_executor);

struct next_batch_initiation {
    template <class Handler>
    void operator()(Handler&& handler, const std::shared_ptr<stream_impl>& impl) const {
        const bool on_stream = on_stream_executor(handler, impl);
        initiate_next_batch(impl, batch_handler(std::forward<Handler>(handler)), on_stream);
    }
    std::shared_ptr<const diagnostics> diagnostics_source(const std::shared_ptr<stream_impl>& impl) const {
        return stream_diagnostics(impl);
    }
};
}  // namespace detail

class stream {
public:
    using executor_type = boost::asio::any_io_executor;

    stream(stream&&) noexcept;
    stream& operator=(stream&&) noexcept;
    /// Destroying a stream aborts it and frees its connection.
    ~stream();

    /// Completes with (error_code, const delta*): the next delta, valid until the next call to
    /// async_next or the stream's destruction (copy it to keep it); or nullptr when the
    /// generation is complete; or an error (see `diagnostics()`). Handing out a pointer into the
    /// stream's own buffer keeps a delta from being moved through every layer of the completion.
    /// Never completes inline. A second call while one is pending fails with
    /// errc::operation_in_progress. Per-operation cancellation follows Asio: `terminal` (what
    /// `||` and a stream's destruction use) aborts the whole stream; `partial` or `total` abandons only
    /// this wait (it completes with operation_aborted) and the next async_next gets the next delta.
    /// A moved-from stream may only be destroyed or assigned to: async_next on it throws
    /// std::logic_error.
    /// With the default token (`with_diagnostics(asio::use_awaitable)`), `co_await s.async_next()`
    /// returns the delta pointer and throws error_with_diagnostics on failure.
    template <class CompletionToken = default_token>
    auto async_next(CompletionToken&& token = CompletionToken{}) {
        if (!impl_) throw_moved_from();
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, const delta*)>(
            detail::next_initiation{}, token, impl_);
    }

    /// Completes with (error_code, delta_batch): every delta that is ready, at least one, lent
    /// until the next async_next or async_next_batch; an empty batch when the generation is
    /// complete; or an error. For readers that can take several deltas per wake-up (a relay, a
    /// bulk consumer): one completion for all the deltas one read of the socket produced, where
    /// async_next costs one completion per delta. Otherwise as async_next (never inline, one
    /// call at a time, cancellation).
    template <class CompletionToken = default_token>
    auto async_next_batch(CompletionToken&& token = CompletionToken{}) {
        if (!impl_) throw_moved_from();
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, delta_batch)>(
            detail::next_batch_initiation{}, token, impl_);
    }

    /// What is known about the request: status, provider code and message, request id, hint.
    /// (Empty for a moved-from stream.)
    const llmstream::diagnostics& diagnostics() const noexcept;

    /// Aborts the generation: a pending async_next completes with operation_aborted. Once the
    /// whole response has arrived there is nothing left to abort: the deltas it brought can
    /// still be read.
    void cancel();

    executor_type get_executor() const noexcept;

private:
    friend class client;
    [[noreturn]] static void throw_moved_from();
    explicit stream(std::shared_ptr<detail::stream_impl> impl);
    std::shared_ptr<detail::stream_impl> impl_;
};

}  // namespace llmstream
