// The deltas of one generation between the attempt loop (producer) and async_next (consumer):
// a ring of lent slots, one pending reader, the end of the stream, cancellation and backpressure.
// Sans-IO: it decides what a read completes with; the stream posts the completion.
#pragma once

#include <llmstream/events.hpp>
#include <llmstream/stream.hpp>

#include <boost/system/error_code.hpp>

#include "memory/block_cache.hpp"
#include "protocol/only_text.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace llmstream::detail {

// One delta waiting in a ring, packed: almost every delta of a stream carries only text (its
// content, or its reasoning), kept here in 48 bytes instead of a whole 352-byte delta. Any other
// delta is kept whole, on the heap. When one thread carries 10,000 streams and falls behind, each
// ring holds a burst of tens of deltas at once: packed, they took ~100 MB less at the peak
// (benchmarks/RESULTS.md).
struct packed_delta {
    enum class kind : unsigned char { content, reasoning, whole };
    std::string text;              ///< kind content or reasoning: that field's text
    std::unique_ptr<delta> whole;  ///< kind whole: the delta (kept for the slot's next whole one)
    kind k = kind::content;
};

// Blocks of ring slots that rings gave back, kept for the next rings of the process (why:
// memory/block_cache.hpp). At most 4,096 blocks of 8 slots: 1.5 MiB (48-byte slots).
using delta_block_cache = memory::block_cache<packed_delta, 8, 4096>;

// A whole delta a batch read lends (the ring's are packed), and what it holds: `content` means
// nothing but its content (maybe empty), `reasoning` nothing but its reasoning, `whole` anything.
// Unpacking into it and emptying it then touch one string, not all of a 352-byte delta.
struct lent_delta {
    delta d;
    packed_delta::kind holds = packed_delta::kind::content;
};

// How the lent deltas' cache empties one: its one text is cleared and keeps its room when that
// is a token's (at most 64 bytes: the ring's next texts move into it without allocating, and
// 2,048 blocks keep at most ~1.3 MiB of it), larger room is freed, and so is any room the other
// text kept from an earlier kind; any other delta is made anew.
struct empty_lent_delta {
    static constexpr std::size_t kept_text_capacity = 64;
    void operator()(lent_delta& x) const noexcept {
        if (x.holds == packed_delta::kind::whole) {
            memory::remake{}(x);
            return;
        }
        const bool content = x.holds == packed_delta::kind::content;
        std::string& text = content ? x.d.content : x.d.reasoning_content;
        std::string& other = content ? x.d.reasoning_content : x.d.content;  // empty
        if (text.capacity() > kept_text_capacity)
            std::string().swap(text);
        else
            text.clear();
        if (other.capacity() > std::string().capacity()) std::string().swap(other);
    }
};

// The deltas a batch read lends, in blocks of 8 taken from a process-wide cache
// (memory/block_cache.hpp) and given back when the reader returns them: blocks of one size leave
// no holes in the heap when 10,000 streams' batches come at once (a vector grown per batch did).
// At most 2,048 blocks kept: 5.6 MiB.
class lent_deltas {
public:
    using block_cache = memory::block_cache<lent_delta, 8, 2048, empty_lent_delta>;
    lent_deltas() = default;
    lent_deltas(const lent_deltas&) = delete;
    lent_deltas& operator=(const lent_deltas&) = delete;
    ~lent_deltas() { release(); }

    /// Room for at least `n`.
    void reserve(std::size_t n) {
        while (blocks_.size() * block_cache::block_size < n) {
            std::unique_ptr<lent_delta[]> b = block_cache::instance().take();
            if (!b) b = std::make_unique<lent_delta[]>(block_cache::block_size);
            blocks_.push_back(std::move(b));
        }
    }
    lent_delta& operator[](std::size_t i) noexcept {
        return blocks_[i / block_cache::block_size][i % block_cache::block_size];
    }
    std::size_t capacity() const noexcept { return blocks_.size() * block_cache::block_size; }
    /// Gives every block back.
    void release() noexcept {
        block_cache::instance().give(blocks_, 0);
        blocks_.clear();
    }

private:
    std::vector<std::unique_ptr<lent_delta[]>> blocks_;
};

// Deltas decoded ahead of the reader: a ring of reused slots. A delta is decoded into the ring's
// one staging delta (prepare), packed into the next slot (commit), and unpacked into the reader's
// delta when taken (take_front): swaps of strings, so a warm queue allocates nothing per delta.
// Slots come in blocks, not one allocation each: a whole response read at once fills hundreds of
// slots per stream.
class delta_ring {
public:
    delta_ring() = default;
    delta_ring(const delta_ring&) = delete;
    delta_ring& operator=(const delta_ring&) = delete;
    ~delta_ring() { release_blocks_after(0); }

    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    /// Slots allocated (what the ring holds in memory).
    std::size_t slots() const noexcept { return slots_.size(); }
    void push(const delta& d) {  // copy-assign keeps the staging delta's capacity
        prepare() = d;
        commit();
    }
    void push(delta&& d) {
        prepare() = std::move(d);
        commit();
    }
    /// The delta the next one may be decoded into, in place; commit() adds it to the ring. Until
    /// then every call returns the same delta (stale: the decoder clears it).
    /// A full ring grows here, before the decoding (commit then allocates only for a whole delta,
    /// the first time its slot holds one).
    delta& prepare() {
        if (count_ == slots_.size()) grow();
        return staging_;
    }
    /// Packs the prepared delta into the next slot.
    void commit() {
        if (count_ == slots_.size()) grow();  // prepare() made room, unless a push() came in between
        pack(staging_, *slots_[(head_ + count_) % slots_.size()]);
        ++count_;
        ++committed_since_empty_;
    }
    /// The first delta, unpacked into `out`, and popped. `held`: what `out` holds (see
    /// packed_delta::kind; whole when not known), updated.
    void take_front(delta& out, packed_delta::kind& held) noexcept {
        unpack(*slots_[head_], out, held);
        pop();
    }
    const packed_delta& at(std::size_t i) const noexcept { return *slots_[(head_ + i) % slots_.size()]; }
    void pop() noexcept {
        head_ = (head_ + 1) % slots_.size();
        --count_;
    }
    void clear() noexcept {
        while (count_ > 0) pop();
    }
    /// The reader has caught up (the ring is empty). When fewer than the first block's slots
    /// were committed since it last was, the stream is being read as it is generated: every block but
    /// the first is given back (a burst's slots are not held while it waits for its next tokens).
    /// A stream read in bursts keeps them: no allocation per burst.
    void caught_up() noexcept {
        if (count_ != 0) return;
        const bool trickling = committed_since_empty_ < first_block_slots;
        committed_since_empty_ = 0;
        if (!trickling || blocks_.size() <= 1) return;
        release_blocks_after(1);
        slots_.resize(first_block_slots);
        for (std::size_t i = 0; i < first_block_slots; ++i) slots_[i] = &blocks_.front()[i];
        head_ = 0;
    }

private:
    // Moves, not copies: a text on the heap changes hands with the buffer it replaces (libstdc++'s
    // move assignment), so a warm ring allocates nothing. `d` is left stale (the decoder clears it).
    static void pack(delta& d, packed_delta& slot) {
        using protocol::only_text;
        if (only_text(d) && d.reasoning_content.empty()) {
            slot.text = std::move(d.content);
            slot.k = packed_delta::kind::content;
        } else if (only_text(d) && d.content.empty()) {
            slot.text = std::move(d.reasoning_content);
            slot.k = packed_delta::kind::reasoning;
        } else {
            if (!slot.whole) slot.whole = std::make_unique<delta>();
            std::swap(*slot.whole, d);
            slot.k = packed_delta::kind::whole;
        }
    }
    // `out` held a delta of kind `held` (content or reasoning: nothing but that text), and then
    // holds the slot's, of that kind.
    static void unpack(packed_delta& slot, delta& out, packed_delta::kind& held) noexcept {
        if (slot.k != packed_delta::kind::whole) {
            if (held == packed_delta::kind::whole)
                out.clear();
            else if (held != slot.k)
                (held == packed_delta::kind::content ? out.content : out.reasoning_content).clear();
            (slot.k == packed_delta::kind::content ? out.content : out.reasoning_content) = std::move(slot.text);
        } else {
            std::swap(out, *slot.whole);
        }
        held = slot.k;
    }

    // Adds a block of slots: 4 at first (a stream read as it is generated has one or two deltas
    // waiting at a time), then 8 at a time. A fixed step, not doubling: a ring ends up less than
    // one block larger than the largest burst its reader fell behind by (when one thread carries
    // 10,000 streams and falls behind, most rings take a burst at once).
    static constexpr std::size_t first_block_slots = 4, block_slots = delta_block_cache::block_size;
    void grow() {
        const std::size_t added = slots_.empty() ? first_block_slots : block_slots;
        std::unique_ptr<packed_delta[]> block;
        if (added == block_slots) block = delta_block_cache::instance().take();
        if (!block) block = std::make_unique<packed_delta[]>(added);
        blocks_.push_back(std::move(block));
        packed_delta* fresh = blocks_.back().get();
        // The ring is full, so its last slot is the one just before head_: the new slots go in
        // between, and the head moves up past them.
        // (An empty ring's head is 0: the first block simply becomes the ring.)
        const std::size_t at = head_;
        slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(at), added, nullptr);
        for (std::size_t i = 0; i < added; ++i) slots_[at + i] = &fresh[i];
        if (slots_.size() > added) head_ += added;
    }
    // Keeps the first `keep` blocks (0 or 1) and gives the others to the block cache; the first
    // block (first_block_slots) is freed, never cached.
    void release_blocks_after(std::size_t keep) noexcept {
        if (blocks_.size() <= keep) return;
        delta_block_cache::instance().give(blocks_, std::max<std::size_t>(keep, 1));
        blocks_.resize(keep);
    }
    delta staging_;                                        // see prepare()
    std::vector<std::unique_ptr<packed_delta[]>> blocks_;  // owns the slots
    std::vector<packed_delta*> slots_;                     // the ring, in order from head_
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::size_t committed_since_empty_ = 0;  // see caught_up
};

/// What a read completes with: a delta (lent until the next read), or the end (nullptr with the
/// stream's error, empty on success).
struct read_result {
    boost::system::error_code ec{};
    const delta* d = nullptr;
};

/// What a batch read completes with: every ready delta (lent until the next read), or the end
/// (an empty batch with the stream's error, empty on success).
struct batch_result {
    boost::system::error_code ec{};
    delta_batch batch{};
};

class delta_channel {
public:
    /// `capacity`: deltas held for the reader before the producer should pause (at least 1).
    explicit delta_channel(std::size_t capacity) : capacity_(std::max<std::size_t>(1, capacity)) {}

    // --- producer ---
    template <class Delta>
    void push(Delta&& d) {
        ring_.push(std::forward<Delta>(d));
    }
    /// In place: decode into prepare()'s delta, then commit() it (see delta_ring::prepare). While
    /// the reader waits with nothing buffered (a stream read as it is generated), the delta is
    /// decoded straight into the one the reader gets: no packing into the ring and out again.
    delta& prepare() {
        staged_for_reader_ = pending_ && !cancelled_ && !ready_for_reader_ && ring_.empty();
        if (!staged_for_reader_) return ring_.prepare();
        lent_one_holds_ = packed_delta::kind::whole;  // the decoder may set any field, committed or not
        return lent_one_;
    }
    void commit() {
        if (!staged_for_reader_) {
            ring_.commit();
            return;
        }
        staged_for_reader_ = false;
        if (pending_ && ring_.empty()) {
            ready_for_reader_ = true;
        } else {  // the read was abandoned meanwhile: the delta waits in the ring
            ring_.prepare() = std::move(lent_one_);
            ring_.commit();
        }
    }
    /// False while the reader is `capacity` deltas behind (those lent to it count): the producer
    /// pauses until room_freed.
    bool has_room() const noexcept { return buffered() < capacity_; }
    /// No more deltas: after the buffered ones the reader gets `ec` (empty: the normal end).
    void finish(boost::system::error_code ec) {
        finished_ = true;
        final_ec_ = ec;
    }
    /// The stream was cancelled: buffered deltas are dropped, the end is the one finish() sets.
    void cancel() noexcept { cancelled_ = true; }
    bool finished() const noexcept { return finished_; }
    std::size_t buffered() const noexcept { return ring_.size() + lent_ + (ready_for_reader_ ? 1 : 0); }
    /// Slots the ring holds in memory (see delta_ring::caught_up).
    std::size_t slots() const noexcept { return ring_.slots(); }

    // --- consumer ---
    enum class begin { busy, started };
    /// A read starts: the delta lent last time is returned (which may free room: see
    /// room_freed()). `busy` when another read is pending or its completion has not run yet:
    /// that read completes with operation_in_progress and changes nothing.
    begin begin_read() {
        if (pending_ || in_flight_ > 0) return begin::busy;
        room_freed_ = false;
        if (lent_ > 0) {
            const bool was_full = !has_room();
            lent_ = 0;
            ring_.caught_up();
            // A batch's deltas are whole ones, 352 bytes each: they go back to the cache once
            // returned. Kept per stream, 10,000 bursting streams held 50 MB more than their rings.
            if (lent_batch_.capacity() > 0) lent_batch_.release();
            room_freed_ = was_full && has_room();
        }
        pending_ = true;
        return begin::started;
    }
    /// True when the last begin_read() made room for a paused producer (the ring was at or over
    /// capacity before, and is under it now).
    bool room_freed() const noexcept { return room_freed_; }

    /// The pending read's completion when one is ready: a buffered delta (lent, counted), or the
    /// end once finished. The caller posts it and calls completed() when it has run.
    std::optional<read_result> take() {
        if (!pending_) return std::nullopt;
        if ((ready_for_reader_ || !ring_.empty()) && !cancelled_) {  // after cancel() buffered deltas are dropped
            pending_ = false;
            if (ready_for_reader_)
                ready_for_reader_ = false;  // decoded in place (see prepare)
            else
                ring_.take_front(lent_one_, lent_one_holds_);
            lent_ = 1;
            ++in_flight_;
            ++delivered_;
            return read_result{{}, &lent_one_};
        }
        if (finished_) {
            pending_ = false;
            ++in_flight_;
            return read_result{final_ec_, nullptr};
        }
        return std::nullopt;
    }

    /// As take(), for a batch read: every buffered delta at once.
    std::optional<batch_result> take_batch() {
        if (!pending_) return std::nullopt;
        if ((ready_for_reader_ || !ring_.empty()) && !cancelled_) {
            const std::size_t from_ring = ring_.size();
            lent_batch_.reserve(from_ring);  // before any change: may throw
            batch_.reserve(from_ring + 1);
            pending_ = false;
            batch_.clear();
            if (ready_for_reader_) {  // decoded in place (see prepare): it comes first
                ready_for_reader_ = false;
                batch_.push_back(&lent_one_);
            }
            for (std::size_t i = 0; i < from_ring; ++i) {
                lent_delta& lent = lent_batch_[i];
                ring_.take_front(lent.d, lent.holds);
                batch_.push_back(&lent.d);
            }
            lent_ = batch_.size();
            ++in_flight_;
            delivered_ += lent_;
            return batch_result{{}, delta_batch(batch_.data(), batch_.size())};
        }
        if (finished_) {
            pending_ = false;
            ++in_flight_;
            return batch_result{final_ec_, {}};
        }
        return std::nullopt;
    }
    /// The pending read gives up (a partial cancellation): true when one was pending. Its
    /// completion (operation_aborted) is the caller's to post; call completed() when it has run.
    bool abandon() noexcept {
        if (!pending_) return false;
        pending_ = false;
        ++in_flight_;
        return true;
    }
    /// A completion handed out by take() or abandon() has run: the next read may start.
    void completed() noexcept { --in_flight_; }

    bool reader_pending() const noexcept { return pending_; }
    /// Deltas handed to the reader so far.
    std::size_t delivered() const noexcept { return delivered_; }

private:
    delta_ring ring_;
    std::size_t capacity_;
    std::size_t delivered_ = 0;
    int in_flight_ = 0;        // completions posted that have not run yet
    delta lent_one_;                   // what the last read lent
    packed_delta::kind lent_one_holds_ = packed_delta::kind::whole;  // what lent_one_ holds (whole: anything)
    lent_deltas lent_batch_;           // what the last batch read lent from the ring
    std::vector<const delta*> batch_;  // pointers to them
    std::size_t lent_ = 0;             // deltas lent to the reader (taken from ring_)
    bool pending_ = false;     // a read is waiting
    bool staged_for_reader_ = false;  // prepare() returned lent_one_
    bool ready_for_reader_ = false;   // lent_one_ holds a committed delta, before the ring's
    bool room_freed_ = false;
    bool finished_ = false;
    bool cancelled_ = false;
    boost::system::error_code final_ec_{};
};

}  // namespace llmstream::detail
