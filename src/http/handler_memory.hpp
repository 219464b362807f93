// Memory for the one asynchronous operation of a kind that an object has pending at a time (a
// connection's socket read, a stream's hand-out of a delta), reused by every such operation.
// Without it each one takes a block from asio's per-thread cache, which keeps two blocks per
// purpose and hands out the first that is large enough: when operations of different sizes take
// turns, a small request takes the large block and the next large one misses, and the cache
// frees a block and mallocs another (callgrind counted 1.5 such misses per streamed event).
// A read goes through read_in (below); a posted function names it as its allocator_type (see
// stream_impl's posted_completion: a bind_allocator wrapper would make asio::post add work).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/system/error_code.hpp>

#include <cassert>
#include <cstddef>
#include <new>

namespace llmstream::http {

template <class T, std::size_t Size>
class handler_allocator;

template <std::size_t Size>
class handler_memory {
public:
    handler_memory() = default;
    // An operation still holding the block would free it into destroyed memory: the owner must
    // outlive every operation it started (the coroutines that await them guarantee it).
    ~handler_memory() { assert(!in_use_); }
    handler_memory(const handler_memory&) = delete;
    handler_memory& operator=(const handler_memory&) = delete;

    /// An allocator for asio::bind_allocator; this memory must outlive the operation.
    handler_allocator<void, Size> allocator() noexcept { return handler_allocator<void, Size>(*this); }

    /// The inline block when it is free and large enough, else the heap.
    void* allocate(std::size_t bytes, std::size_t alignment) {
        if (!in_use_ && bytes <= Size && alignment <= alignof(std::max_align_t)) {
            in_use_ = true;
            return storage_;
        }
        return ::operator new(bytes, std::align_val_t(alignment));
    }

    void deallocate(void* pointer, std::size_t alignment) noexcept {
        if (pointer == storage_) in_use_ = false;
        else free_heap(pointer, alignment);
    }

private:
    // Out of line: where allocate and deallocate are both inlined, GCC 12 follows the block's
    // pointer into the heap branch it never takes and reports a false -Wfree-nonheap-object.
    [[gnu::noinline]] static void free_heap(void* pointer, std::size_t alignment) noexcept {
        ::operator delete(pointer, std::align_val_t(alignment));
    }

    alignas(std::max_align_t) unsigned char storage_[Size];
    bool in_use_ = false;
};

/// A standard allocator over one handler_memory (which must outlive every operation using it).
template <class T, std::size_t Size>
class handler_allocator {
public:
    using value_type = T;
    template <class U>
    struct rebind {
        using other = handler_allocator<U, Size>;
    };

    explicit handler_allocator(handler_memory<Size>& memory) noexcept : memory_(&memory) {}
    template <class U>
    handler_allocator(const handler_allocator<U, Size>& other) noexcept : memory_(other.memory_) {}

    T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n, alignof(T))); }
    void deallocate(T* pointer, std::size_t) noexcept { memory_->deallocate(pointer, alignof(T)); }

    template <class U>
    bool operator==(const handler_allocator<U, Size>& other) const noexcept {
        return memory_ == other.memory_;
    }

private:
    template <class, std::size_t>
    friend class handler_allocator;
    handler_memory<Size>* memory_;
};

/// A socket read in `memory`, to co_await for (error_code, bytes) in a coroutine:
/// `co_await read_in(memory, [&](auto handler) { socket.async_read_some(buffer, std::move(handler)); })`.
/// (Boost 1.81's bind_allocator does not take asio::deferred, hence the initiation.)
template <std::size_t Size, class StartRead>
auto read_in(handler_memory<Size>& memory, StartRead start_read) {
    auto token = boost::asio::as_tuple(boost::asio::deferred);
    return boost::asio::async_initiate<decltype(token), void(boost::system::error_code, std::size_t)>(
        [&memory, start_read = std::move(start_read)](auto handler) mutable {
            start_read(boost::asio::bind_allocator(memory.allocator(), std::move(handler)));
        },
        token);
}

}  // namespace llmstream::http
