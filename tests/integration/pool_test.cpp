// http::connection_pool on its own: first come, first served (what is freed goes to the first
// request in line, not to one that arrives meanwhile), the bounded queue, the wait timeout, the
// request deadline, and cancellation before and after a request's turn came. The connections are
// never connected: the pool's bookkeeping is what is tested. Then http::connect_gate, the turns
// to open connections, the same way.
#include "http/connect_gate.hpp"
#include "http/connection_pool.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using boost::system::error_code;
using llmstream::http::connect_gate;
using llmstream::http::connection;
using llmstream::http::connection_pool;
using llmstream::http::pool_settings;
using llmstream::http::pool_waiter;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// One acquire running on the io_context; its outcome once it completes.
struct request {
    std::shared_ptr<pool_waiter> waiter;
    std::optional<error_code> ec;
    std::unique_ptr<connection> conn;
    clock_type::time_point finished{};

    request(asio::io_context& ioc, connection_pool& pool, clock_type::time_point deadline = clock_type::time_point::max())
        : waiter(std::make_shared<pool_waiter>(ioc.get_executor())) {
        asio::co_spawn(ioc, [this, &pool, deadline]() -> asio::awaitable<void> {
            error_code e;
            conn = co_await pool.acquire(waiter, e, deadline);
            ec = e;
            finished = clock_type::now();
        }, asio::detached);
    }
    bool done() const { return ec.has_value(); }
};

// Runs handlers until `until` holds or `budget` passes.
template <class Pred>
void run_until(asio::io_context& ioc, Pred until, clock_type::duration budget = 5s) {
    ioc.restart();
    const auto end = clock_type::now() + budget;
    while (!until() && clock_type::now() < end) ioc.run_one_for(std::min<clock_type::duration>(end - clock_type::now(), 50ms));
}

// What a request's cancel() does to its waiter (stream_impl::cancel).
void cancel(pool_waiter& w) {
    w.cancelled = true;
    w.timer.cancel();
}

pool_settings one_connection() {
    pool_settings s;
    s.max_connections = 1;
    s.wait_timeout = 10s;
    return s;
}

}  // namespace

TEST_CASE("pool: a freed connection goes to the first request in line, not to one that arrives meanwhile") {
    asio::io_context ioc;
    connection_pool pool(ioc.get_executor(), one_connection(), nullptr);
    request a(ioc, pool);
    run_until(ioc, [&] { return a.done(); });
    REQUIRE(a.done());
    REQUIRE_FALSE(*a.ec);
    request b(ioc, pool);
    run_until(ioc, [&] { return pool.waiting_requests() == 1; });
    REQUIRE(pool.waiting_requests() == 1);

    // A returns its connection as reusable and, in the same handler (before B's wake-up has
    // run), C asks for one: as a request finishing and the next starting at once would.
    auto c_waiter = std::make_shared<pool_waiter>(ioc.get_executor());
    std::optional<error_code> c_ec;
    std::unique_ptr<connection> c_conn;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        pool.release(std::move(a.conn), true);
        error_code e;
        c_conn = co_await pool.acquire(c_waiter, e);
        c_ec = e;
    }, asio::detached);
    run_until(ioc, [&] { return b.done(); }, 2s);
    REQUIRE(b.done());
    CHECK_FALSE(*b.ec);
    CHECK(b.conn);
    CHECK_FALSE(c_ec.has_value());  // C waits its turn
    CHECK(pool.open_connections() == 1);
    CHECK(pool.waiting_requests() == 1);

    // B's connection is closed, not reused: its slot goes to C.
    pool.release(std::move(b.conn), false);
    run_until(ioc, [&] { return c_ec.has_value(); }, 2s);
    REQUIRE(c_ec.has_value());
    CHECK_FALSE(*c_ec);
    CHECK(pool.open_connections() == 1);
    pool.release(std::move(c_conn), false);
    CHECK(pool.open_connections() == 0);
    CHECK(pool.waiting_requests() == 0);
}

TEST_CASE("pool: waits end at wait_timeout or at the request's deadline, whichever is sooner") {
    asio::io_context ioc;
    pool_settings s = one_connection();
    s.wait_timeout = 150ms;
    connection_pool pool(ioc.get_executor(), s, nullptr);
    request holder(ioc, pool);
    run_until(ioc, [&] { return holder.done(); });
    REQUIRE(holder.conn);

    const auto start = clock_type::now();
    request timed_out(ioc, pool);
    run_until(ioc, [&] { return timed_out.done(); });
    REQUIRE(timed_out.done());
    CHECK(*timed_out.ec == llmstream::errc::pool_wait_timeout);
    CHECK(timed_out.finished - start >= 140ms);

    const auto start2 = clock_type::now();
    request past_deadline(ioc, pool, clock_type::now() + 50ms);
    run_until(ioc, [&] { return past_deadline.done(); });
    REQUIRE(past_deadline.done());
    CHECK(*past_deadline.ec == llmstream::errc::deadline_exceeded);
    CHECK(past_deadline.finished - start2 < 140ms);
    CHECK(pool.waiting_requests() == 0);
    CHECK(pool.open_connections() == 1);
}

TEST_CASE("pool: a full queue refuses at once") {
    asio::io_context ioc;
    pool_settings s = one_connection();
    s.max_waiting = 1;
    connection_pool pool(ioc.get_executor(), s, nullptr);
    request holder(ioc, pool);
    request first(ioc, pool);
    request second(ioc, pool);
    run_until(ioc, [&] { return holder.done() && second.done(); });
    REQUIRE(second.done());
    CHECK(*second.ec == llmstream::errc::pool_queue_full);
    CHECK_FALSE(first.done());
    CHECK(pool.waiting_requests() == 1);
    cancel(*first.waiter);
    run_until(ioc, [&] { return first.done(); });
    CHECK(*first.ec == asio::error::operation_aborted);
    CHECK(pool.waiting_requests() == 0);
}

TEST_CASE("pool: a request cancelled after its turn came passes the connection on") {
    asio::io_context ioc;
    connection_pool pool(ioc.get_executor(), one_connection(), nullptr);
    request a(ioc, pool);
    run_until(ioc, [&] { return a.done(); });
    request b(ioc, pool);
    request c(ioc, pool);
    run_until(ioc, [&] { return pool.waiting_requests() == 2; });
    REQUIRE(pool.waiting_requests() == 2);

    // A's slot is handed to B, and B is cancelled before it runs: C must get the slot.
    pool.release(std::move(a.conn), false);
    cancel(*b.waiter);
    run_until(ioc, [&] { return b.done() && c.done(); });
    REQUIRE(b.done());
    CHECK(*b.ec == asio::error::operation_aborted);
    REQUIRE(c.done());
    CHECK_FALSE(*c.ec);
    CHECK(pool.open_connections() == 1);
    pool.release(std::move(c.conn), false);
    CHECK(pool.open_connections() == 0);
}

TEST_CASE("pool: a request whose connection was stale keeps its slot instead of queueing again") {
    asio::io_context ioc;
    connection_pool pool(ioc.get_executor(), one_connection(), nullptr);
    request a(ioc, pool);
    run_until(ioc, [&] { return a.done(); });
    request b(ioc, pool);
    run_until(ioc, [&] { return pool.waiting_requests() == 1; });
    REQUIRE(pool.waiting_requests() == 1);
    a.conn->connected = true;  // as a reused keep-alive connection would be
    a.conn = pool.replace(std::move(a.conn));
    REQUIRE(a.conn);
    CHECK_FALSE(a.conn->connected);  // a new, unconnected one
    CHECK(pool.open_connections() == 1);
    run_until(ioc, [&] { return b.done(); }, 300ms);
    CHECK_FALSE(b.done());  // B still waits: A kept its slot
    pool.release(std::move(a.conn), false);
    run_until(ioc, [&] { return b.done(); });
    CHECK(b.done());
    pool.release(std::move(b.conn), false);
    CHECK(pool.open_connections() == 0);
}

TEST_CASE("pool: a waiter whose deadline passed before its turn came passes the connection on") {
    asio::io_context ioc;
    connection_pool pool(ioc.get_executor(), one_connection(), nullptr);
    request a(ioc, pool);
    run_until(ioc, [&] { return a.done(); });
    request late(ioc, pool, clock_type::now() + 50ms);
    run_until(ioc, [&] { return pool.waiting_requests() == 1; });
    REQUIRE(pool.waiting_requests() == 1);
    // The deadline passes while nothing runs; then the connection comes back, before the late
    // waiter's timer was processed: it is granted, but must not use it.
    std::this_thread::sleep_for(100ms);
    pool.release(std::move(a.conn), true);
    run_until(ioc, [&] { return late.done(); });
    REQUIRE(late.done());
    CHECK(*late.ec == llmstream::errc::deadline_exceeded);
    CHECK_FALSE(late.conn);
    CHECK(pool.idle_connections() == 1);  // passed on, unused
    CHECK(pool.open_connections() == 1);
}

// --- http::connect_gate: turns to open connections ---

namespace {

// One enter() running on the io_context; its outcome once it completes.
struct turn_request {
    std::shared_ptr<pool_waiter> waiter;
    std::optional<error_code> ec;

    turn_request(asio::io_context& ioc, connect_gate& gate, clock_type::time_point deadline = clock_type::time_point::max())
        : waiter(std::make_shared<pool_waiter>(ioc.get_executor())) {
        asio::co_spawn(ioc, [this, &gate, deadline]() -> asio::awaitable<void> {
            ec = co_await gate.enter(waiter, deadline);
        }, asio::detached);
    }
    bool done() const { return ec.has_value(); }
    bool entered() const { return ec.has_value() && !*ec; }
};

}  // namespace

TEST_CASE("connect gate: at most the limit open at once, the rest take turns in arrival order") {
    asio::io_context ioc;
    connect_gate gate(2, 10s);
    turn_request a(ioc, gate), b(ioc, gate), c(ioc, gate), d(ioc, gate);
    run_until(ioc, [&] { return a.done() && b.done() && gate.waiting() == 2; });
    CHECK(a.entered());
    CHECK(b.entered());
    CHECK(gate.opening() == 2);
    REQUIRE(gate.waiting() == 2);
    CHECK_FALSE(c.done());
    CHECK_FALSE(d.done());

    // A's connection is open: its turn goes to C (the first in line), not to E, who arrives
    // in the same handler, before C's wake-up has run.
    gate.leave();
    turn_request e(ioc, gate);
    run_until(ioc, [&] { return c.done(); }, 2s);
    CHECK(c.entered());
    CHECK_FALSE(d.done());
    CHECK_FALSE(e.done());
    CHECK(gate.opening() == 2);
    gate.leave();  // B
    run_until(ioc, [&] { return d.done(); }, 2s);
    CHECK(d.entered());
    CHECK_FALSE(e.done());
    gate.leave();  // C
    run_until(ioc, [&] { return e.done(); }, 2s);
    CHECK(e.entered());
    gate.leave();  // D
    gate.leave();  // E
    CHECK(gate.opening() == 0);
    CHECK(gate.waiting() == 0);
    turn_request f(ioc, gate);  // nobody in line, nobody opening: at once
    run_until(ioc, [&] { return f.done(); });
    CHECK(f.entered());
    gate.leave();
}

TEST_CASE("connect gate: a wait ends at wait_timeout, at the deadline, or when cancelled, and leaves the line") {
    asio::io_context ioc;
    connect_gate gate(1, 150ms);
    turn_request holder(ioc, gate);
    run_until(ioc, [&] { return holder.done(); });
    REQUIRE(holder.entered());

    const auto start = clock_type::now();
    turn_request timed_out(ioc, gate);
    run_until(ioc, [&] { return timed_out.done(); });
    REQUIRE(timed_out.done());
    CHECK(*timed_out.ec == llmstream::errc::pool_wait_timeout);
    CHECK(clock_type::now() - start >= 140ms);

    turn_request past_deadline(ioc, gate, clock_type::now() + 30ms);
    run_until(ioc, [&] { return past_deadline.done(); });
    REQUIRE(past_deadline.done());
    CHECK(*past_deadline.ec == llmstream::errc::deadline_exceeded);

    turn_request cancelled(ioc, gate);
    run_until(ioc, [&] { return gate.waiting() == 1; });
    REQUIRE(gate.waiting() == 1);
    cancel(*cancelled.waiter);
    run_until(ioc, [&] { return cancelled.done(); });
    REQUIRE(cancelled.done());
    CHECK(*cancelled.ec == asio::error::operation_aborted);

    // None of them holds a turn: the holder's leave frees the gate.
    CHECK(gate.waiting() == 0);
    CHECK(gate.opening() == 1);
    gate.leave();
    CHECK(gate.opening() == 0);
}

TEST_CASE("connect gate: a request cancelled after its turn came passes the turn on") {
    asio::io_context ioc;
    connect_gate gate(1, 10s);
    turn_request a(ioc, gate);
    run_until(ioc, [&] { return a.done(); });
    turn_request b(ioc, gate), c(ioc, gate);
    run_until(ioc, [&] { return gate.waiting() == 2; });
    REQUIRE(gate.waiting() == 2);
    gate.leave();  // A's turn goes to B, who is cancelled before its wake-up runs
    cancel(*b.waiter);
    run_until(ioc, [&] { return b.done() && c.done(); });
    REQUIRE(b.done());
    CHECK(*b.ec == asio::error::operation_aborted);
    REQUIRE(c.done());
    CHECK(c.entered());
    CHECK(gate.opening() == 1);
    gate.leave();
    CHECK(gate.opening() == 0);
}

TEST_CASE("connect gate: a limit of 0 lets every connection open at once") {
    asio::io_context ioc;
    connect_gate gate(0, 10s);
    std::vector<std::unique_ptr<turn_request>> all;
    for (int i = 0; i < 50; ++i) all.push_back(std::make_unique<turn_request>(ioc, gate));
    run_until(ioc, [&] { return std::all_of(all.begin(), all.end(), [](auto& r) { return r->done(); }); });
    for (auto& r : all) CHECK(r->entered());
    CHECK(gate.opening() == 50);
    CHECK(gate.waiting() == 0);
}

TEST_CASE("connect gate: a waiter whose deadline passed before its turn came passes the turn on") {
    asio::io_context ioc;
    connect_gate gate(1, 10s);
    turn_request a(ioc, gate);
    run_until(ioc, [&] { return a.done(); });
    turn_request late(ioc, gate, clock_type::now() + 50ms);
    turn_request next(ioc, gate);
    run_until(ioc, [&] { return gate.waiting() == 2; });
    REQUIRE(gate.waiting() == 2);
    // The deadline passes while nothing runs; then A's turn is given to the late waiter before its
    // timer was processed: it must not take it.
    std::this_thread::sleep_for(100ms);
    gate.leave();
    run_until(ioc, [&] { return late.done() && next.done(); });
    REQUIRE(late.done());
    CHECK(*late.ec == llmstream::errc::deadline_exceeded);
    REQUIRE(next.done());
    CHECK(next.entered());
    CHECK(gate.opening() == 1);
    gate.leave();
    CHECK(gate.opening() == 0);
}
