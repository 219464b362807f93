// Blocks of objects (arrays of BlockSize default-constructed T) that their users gave back, kept
// for the next users of the process: the delta rings' slots, a batch read's lent deltas. A stream
// whose response arrives faster than its reader takes it fills hundreds of slots and gives them
// all back at its end; freed to malloc, that memory went back to the system (glibc trims the
// heap's top) and was faulted in again for the next stream, which cost more than the rest of the
// hand-out (measured in benchmarks/RESULTS.md). At most MaxBlocks are kept, each object emptied by
// `Empty` first: by default destroyed and made anew (`remake`), so it keeps neither its last
// user's data nor the capacity that data took (assigning `T{}` would keep a string's buffer). A
// mutex guards them (clients may run on several threads).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

namespace llmstream::memory {

/// The default way a block_cache empties what it keeps: destroyed and made anew.
struct remake {
    template <class T>
    void operator()(T& x) const noexcept {
        // Made anew in place: a throwing constructor would leave a destroyed object behind.
        static_assert(std::is_nothrow_default_constructible_v<T>);
        std::destroy_at(&x);
        std::construct_at(&x);
    }
};

template <class T, std::size_t BlockSize, std::size_t MaxBlocks, class Empty = remake>
class block_cache {
    static_assert(std::is_nothrow_invocable_v<Empty, T&>);

public:
    static constexpr std::size_t block_size = BlockSize;
    static constexpr std::size_t max_blocks = MaxBlocks;

    /// The process's cache (never destroyed: users in static objects may end after main).
    static block_cache& instance() {
        static block_cache* const cache = new block_cache;
        return *cache;
    }

    /// A block from the cache, or none (the caller allocates one).
    std::unique_ptr<T[]> take() noexcept {
        const std::lock_guard lock(mutex_);
        if (free_.empty()) return nullptr;
        std::unique_ptr<T[]> b = std::move(free_.back());
        free_.pop_back();
        return b;
    }

    /// Empties `blocks[from...]` (blocks of block_size) and keeps them for later take()s while
    /// there is room; what does not fit stays in `blocks` (the caller frees it), not emptied.
    void give(std::vector<std::unique_ptr<T[]>>& blocks, std::size_t from) noexcept {
        if (from >= blocks.size()) return;
        std::size_t fit = room();
        if (fit > blocks.size() - from) fit = blocks.size() - from;
        for (std::size_t i = from; i < from + fit; ++i)
            for (std::size_t j = 0; j < block_size; ++j) Empty{}(blocks[i][j]);
        const std::lock_guard lock(mutex_);  // another thread may have given some meanwhile
        for (std::size_t i = from; i < from + fit && free_.size() < max_blocks; ++i)
            free_.push_back(std::move(blocks[i]));  // reserved: never throws
    }

    /// Blocks kept.
    std::size_t size() const noexcept {
        const std::lock_guard lock(mutex_);
        return free_.size();
    }

private:
    block_cache() { free_.reserve(max_blocks); }
    std::size_t room() const noexcept {
        const std::lock_guard lock(mutex_);
        return max_blocks - free_.size();
    }

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<T[]>> free_;
};

}  // namespace llmstream::memory
