// Byte buffers that outlive their user: the read buffers of HTTP/1.1 responses and TLS
// connections. A burst (a whole response in a few reads) grows a reader's buffer to tens of KiB,
// and the buffer is freed when the response ends. Freed to malloc, that memory went back to the
// system (glibc trims the heap's top once 128 KiB of it are free) and the next response faulted
// fresh pages in while the kernel copied into them: most of the page faults left in bulk delivery
// (benchmarks/RESULTS.md). Buffers of min_cached bytes and more are rounded up to a power of two
// and kept here for the next reader, up to max_bytes for the process; smaller ones (a stream read
// as it is generated holds 1 KiB) go to malloc, which serves them well.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <vector>

namespace llmstream::memory {

class buffer_cache {
public:
    static constexpr std::size_t min_cached = 4 * 1024;
    static constexpr std::size_t max_cached = 128 * 1024;
    static constexpr std::size_t default_max_bytes = 8 * 1024 * 1024;

    explicit buffer_cache(std::size_t max_bytes = default_max_bytes);
    ~buffer_cache();
    buffer_cache(const buffer_cache&) = delete;
    buffer_cache& operator=(const buffer_cache&) = delete;

    /// The process's cache (never destroyed: buffers of static clients may be freed after main).
    static buffer_cache& instance();

    /// The size a buffer of `size` bytes is allocated with: the next power of two between
    /// min_cached and max_cached, `size` itself outside.
    static std::size_t allocation_size(std::size_t size) noexcept;

    /// A kept buffer of allocation_size(size) bytes, or nullptr (the caller allocates one).
    char* take(std::size_t size) noexcept;
    /// Keeps `data` (allocated with new char[allocation_size(size)]) for a later take() when its
    /// size is cached and there is room; otherwise frees it.
    void give(char* data, std::size_t size) noexcept;

    /// Bytes kept.
    std::size_t bytes() const noexcept;

private:
    static constexpr std::size_t size_classes = 6;  // 4, 8, 16, 32, 64, 128 KiB
    static std::size_t size_class(std::size_t allocation) noexcept;

    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    std::array<std::vector<char*>, size_classes> free_;  // reserved for max_bytes_ of each: push_back never throws
    std::size_t bytes_ = 0;
};

/// A buffer of at least the size asked for, not zeroed, from `cache` when it keeps one and given
/// back to it at the end. Move-only.
class byte_buffer {
public:
    byte_buffer() noexcept = default;
    explicit byte_buffer(std::size_t size, buffer_cache& cache = buffer_cache::instance());
    ~byte_buffer() { reset(); }
    byte_buffer(byte_buffer&& other) noexcept;
    byte_buffer& operator=(byte_buffer&& other) noexcept;

    char* data() const noexcept { return data_; }
    /// Bytes usable: allocation_size() of the size asked for.
    std::size_t size() const noexcept { return size_; }
    explicit operator bool() const noexcept { return data_ != nullptr; }
    /// Gives the buffer back (to the cache, or to the heap).
    void reset() noexcept;

private:
    char* data_ = nullptr;
    std::size_t size_ = 0;
    buffer_cache* cache_ = nullptr;
};

}  // namespace llmstream::memory
