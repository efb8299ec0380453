// SPDX-License-Identifier: Apache-2.0
// Control socket: status, events, errors, slow subscribers, stale sockets.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "daemon/control_socket.h"
#include "daemon_test_util.h"
#include "json_view.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {

struct Fixture {
	TempDir dir;
	Logger log{-1, LogLevel::Error, false};
	EventLoop loop = std::move(*EventLoop::create(log));
	std::string path = dir.file("ctl.sock");
	int status_calls = 0;
	std::unique_ptr<ControlSocket> cs;

	explicit Fixture(std::size_t max_queued = 256 * 1024)
	{
		ControlSocket::Options o;
		o.path = path;
		o.max_queued_bytes = max_queued;
		auto r = ControlSocket::open(loop, log, o, [this] {
			status_calls++;
			return std::string(R"({"state":"Waiting"})");
		});
		if (!r)
			FAIL(r.error().message());
		cs = std::move(*r);
	}
	// Runs the loop until `done` holds; every step waits at most 50 ms, so a bug shows up as
	// a failed REQUIRE rather than a hang.
	template <class F> void pump(F done)
	{
		for (int i = 0; i < 100 && !done(); i++)
			REQUIRE(loop.run_once(50));
		REQUIRE(done());
	}
	// One request/response exchange.
	std::string request(int fd, std::string_view line)
	{
		REQUIRE(control_write(fd, std::string(line) + "\n"));
		std::string buf;
		// The daemon side runs in this thread: pump until the reply is readable.
		pump([&] {
			char c;
			return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
		});
		auto l = control_read_line(fd, buf);
		REQUIRE(l);
		return *l;
	}
};

}  // namespace

TEST_CASE("control socket answers status and is created 0660", "[daemon]")
{
	Fixture f;
	struct stat st {};
	REQUIRE(::stat(f.path.c_str(), &st) == 0);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK((st.st_mode & 0777) == 0660);

	auto c = control_connect(f.path, 2000);
	REQUIRE(c);
	CHECK(f.request(c->get(), R"({"cmd":"status"})") == R"({"state":"Waiting"})");
	// The connection stays usable for further requests.
	CHECK(f.request(c->get(), R"(  {"cmd" : "status"}  )") == R"({"state":"Waiting"})");
	CHECK(f.status_calls == 2);
	CHECK(f.cs->clients() == 1);
}

TEST_CASE("control socket names bad requests", "[daemon]")
{
	Fixture f;
	auto c = control_connect(f.path, 2000);
	REQUIRE(c);
	auto err_of = [&](std::string_view req) {
		auto v = parse_json_view(f.request(c->get(), req));
		REQUIRE(v);
		REQUIRE(v->find("error") != nullptr);
		return std::string(*v->find("error")->as_string());
	};
	CHECK_THAT(err_of("{\"cmd\":\"reboot\"}"), Catch::Contains("unknown cmd 'reboot'"));
	CHECK_THAT(err_of("not json"), Catch::Contains("JSON at byte 1: "));
	CHECK_THAT(err_of("{\"cmd\":\"status\""), Catch::Contains("JSON at byte"));
	CHECK_THAT(err_of("\"\xff\""), Catch::Contains("JSON at byte"));
	CHECK_THAT(err_of(std::string(40, '[') + std::string(40, ']')),
	           Catch::Contains("nested too deeply"));
	CHECK_THAT(err_of("[1]"), Catch::Contains("\"cmd\""));
	CHECK_THAT(err_of("{\"cmd\":1}"), Catch::Contains("\"cmd\""));
	CHECK_THAT(err_of("{\"cmd\":null}"), Catch::Contains("\"cmd\""));
	CHECK_THAT(err_of("{}"), Catch::Contains("\"cmd\""));
	// The connection survives every refusal.
	CHECK(f.request(c->get(), R"({"cmd":"status"})") == R"({"state":"Waiting"})");

	// A request past 4 KiB drops that client, unanswered (EOF or a reset), and only it.
	auto big = control_connect(f.path, 2000);
	REQUIRE(big);
	REQUIRE(control_write(big->get(), R"({"cmd":")" + std::string(10000, 'x')));
	f.pump([&] { return f.cs->clients() == 1; });
	std::string buf;
	CHECK_FALSE(control_read_line(big->get(), buf));
	CHECK(f.request(c->get(), R"({"cmd":"status"})") == R"({"state":"Waiting"})");
}

TEST_CASE("control socket streams events to subscribers only", "[daemon]")
{
	Fixture f;
	auto sub = control_connect(f.path, 2000);
	auto other = control_connect(f.path, 2000);
	REQUIRE(sub);
	REQUIRE(other);
	CHECK(f.request(sub->get(), R"({"cmd":"events"})") == R"({"subscribed":true})");
	CHECK(f.request(other->get(), R"({"cmd":"status"})") == R"({"state":"Waiting"})");
	CHECK(f.cs->subscribers() == 1);
	f.cs->publish(R"({"event":"a"})");
	f.cs->publish(R"({"event":"b"})");
	std::string buf;
	CHECK(*control_read_line(sub->get(), buf) == R"({"event":"a"})");
	CHECK(*control_read_line(sub->get(), buf) == R"({"event":"b"})");
	char c;
	CHECK(::recv(other->get(), &c, 1, MSG_DONTWAIT) == -1);  // nothing for non-subscribers

	// A client that goes away is forgotten.
	sub->reset();
	f.pump([&] { return f.cs->subscribers() == 0; });
	CHECK(f.cs->clients() == 1);
}

TEST_CASE("a subscriber that stops reading is dropped, the loop never blocks", "[daemon]")
{
	Fixture f(4096);
	auto sub = control_connect(f.path, 2000);
	REQUIRE(sub);
	CHECK(f.request(sub->get(), R"({"cmd":"events"})") == R"({"subscribed":true})");
	std::string event = R"({"event":")" + std::string(1000, 'x') + "\"}";
	// The kernel buffers a few hundred KiB; past that the queue grows beyond 4 KiB.
	int sent = 0;
	while (f.cs->subscribers() == 1 && sent < 100000) {
		f.cs->publish(event);
		sent++;
	}
	CHECK(f.cs->subscribers() == 0);
	CHECK(f.cs->dropped_slow() == 1);
	CHECK(sent > 4);
	// The client sees a clean end after what was delivered.
	std::string buf;
	Result<std::string> line;
	int lines = 0;
	while ((line = control_read_line(sub->get(), buf)))
		lines++;
	CHECK(lines > 0);
	CHECK(lines < sent);
	CHECK_THAT(line.error().context, Catch::Contains("closed"));
}

TEST_CASE("control socket replaces a stale socket file but not a live one", "[daemon]")
{
	TempDir dir;
	Logger log(-1, LogLevel::Error, false);
	auto loop = EventLoop::create(log);
	REQUIRE(loop);
	std::string path = dir.file("s.sock");
	auto status = [] { return std::string("{}"); };
	{
		auto a = ControlSocket::open(*loop, log, {path, 1024, 4, {}}, status);
		REQUIRE(a);
		auto b = ControlSocket::open(*loop, log, {path, 1024, 4, {}}, status);
		REQUIRE_FALSE(b);
		CHECK_THAT(b.error().context, Catch::Contains("running process"));
	}
	// Destruction removed the file.
	CHECK(::access(path.c_str(), F_OK) != 0);

	// A dead daemon's socket: bound, never listening, then the fd closed.
	{
		Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::memcpy(addr.sun_path, path.c_str(), path.size());
		REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
	}
	REQUIRE(::access(path.c_str(), F_OK) == 0);
	auto c = ControlSocket::open(*loop, log, {path, 1024, 4, {}}, status);
	REQUIRE(c);

	std::string plain = dir.file("plain");
	spsec::test::write_file(plain, "x");
	auto d = ControlSocket::open(*loop, log, {plain, 1024, 4, {}}, status);
	REQUIRE_FALSE(d);
	CHECK_THAT(d.error().context, Catch::Contains("not a socket"));

	auto e = ControlSocket::open(*loop, log, {std::string(200, 'a'), 1024, 4, {}}, status);
	REQUIRE_FALSE(e);
	CHECK_THAT(e.error().context, Catch::Contains("longer than"));

	auto no = control_connect(dir.file("absent.sock"), 100);
	REQUIRE_FALSE(no);
	CHECK_THAT(no.error().message(), Catch::Contains("is spsecd running?"));
}
