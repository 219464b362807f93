#include "memory/buffer_cache.hpp"

#include <bit>
#include <utility>

namespace llmstream::memory {

buffer_cache::buffer_cache(std::size_t max_bytes) : max_bytes_(max_bytes) {
    for (std::size_t c = 0; c < size_classes; ++c) free_[c].reserve(max_bytes_ / (min_cached << c));
}

buffer_cache::~buffer_cache() {
    for (auto& buffers : free_)
        for (char* b : buffers) delete[] b;
}

buffer_cache& buffer_cache::instance() {
    static buffer_cache* const cache = new buffer_cache;
    return *cache;
}

std::size_t buffer_cache::allocation_size(std::size_t size) noexcept {
    if (size < min_cached || size > max_cached) return size;
    return std::bit_ceil(size);
}

std::size_t buffer_cache::size_class(std::size_t allocation) noexcept {
    if (allocation < min_cached || allocation > max_cached || !std::has_single_bit(allocation)) return size_classes;
    return static_cast<std::size_t>(std::countr_zero(allocation / min_cached));
}

char* buffer_cache::take(std::size_t size) noexcept {
    const std::size_t allocation = allocation_size(size);
    const std::size_t c = size_class(allocation);
    if (c == size_classes) return nullptr;
    const std::lock_guard lock(mutex_);
    auto& buffers = free_[c];
    if (buffers.empty()) return nullptr;
    char* b = buffers.back();
    buffers.pop_back();
    bytes_ -= allocation;
    return b;
}

void buffer_cache::give(char* data, std::size_t size) noexcept {
    if (!data) return;
    const std::size_t allocation = allocation_size(size);
    const std::size_t c = size_class(allocation);
    if (c != size_classes) {
        const std::lock_guard lock(mutex_);
        if (bytes_ + allocation <= max_bytes_) {  // then free_[c] has room reserved: no throw
            free_[c].push_back(data);
            bytes_ += allocation;
            return;
        }
    }
    delete[] data;
}

std::size_t buffer_cache::bytes() const noexcept {
    const std::lock_guard lock(mutex_);
    return bytes_;
}

byte_buffer::byte_buffer(std::size_t size, buffer_cache& cache) : cache_(&cache) {
    size_ = buffer_cache::allocation_size(size);
    data_ = cache.take(size);
    if (!data_ && size_ != 0) data_ = new char[size_];  // not zeroed: a read fills what it reports
}

byte_buffer::byte_buffer(byte_buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)), cache_(other.cache_) {}

byte_buffer& byte_buffer::operator=(byte_buffer&& other) noexcept {
    if (this != &other) {
        reset();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        cache_ = other.cache_;
    }
    return *this;
}

void byte_buffer::reset() noexcept {
    if (data_) cache_->give(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

}  // namespace llmstream::memory
