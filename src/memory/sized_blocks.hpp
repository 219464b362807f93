// Blocks from operator new that know their size, for C libraries that take malloc, calloc,
// realloc and free functions (nghttp2's nghttp2_mem; the allocation-failure test routes
// OpenSSL's through them too): their memory goes where ours goes, and an application's own
// operator new sees it. A failed allocation is a null pointer, as C expects.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace llmstream::memory::sized_blocks {

namespace detail {
// Before each block: its size, which realloc needs.
struct alignas(std::max_align_t) header {
    std::size_t size;
};
}  // namespace detail

inline void* allocate(std::size_t size) noexcept {
    if (size > SIZE_MAX - sizeof(detail::header)) return nullptr;
    try {
        auto* h = static_cast<detail::header*>(::operator new(sizeof(detail::header) + size));
        h->size = size;
        return h + 1;
    } catch (const std::bad_alloc&) {
        return nullptr;
    }
}

inline void release(void* block) noexcept {
    if (block) ::operator delete(static_cast<detail::header*>(block) - 1);
}

inline void* allocate_zeroed(std::size_t count, std::size_t size) noexcept {
    if (size != 0 && count > SIZE_MAX / size) return nullptr;
    void* block = allocate(count * size);
    if (block) std::memset(block, 0, count * size);
    return block;
}

/// realloc's contract: a null `block` is allocated; size 0 frees it and gives null; on failure
/// the old block stays as it was.
inline void* reallocate(void* block, std::size_t size) noexcept {
    if (!block) return allocate(size);
    if (size == 0) {
        release(block);
        return nullptr;
    }
    void* moved = allocate(size);
    if (!moved) return nullptr;
    std::memcpy(moved, block, std::min(size, (static_cast<detail::header*>(block) - 1)->size));
    release(block);
    return moved;
}

}  // namespace llmstream::memory::sized_blocks
