// SPDX-License-Identifier: Apache-2.0
// spsecd start-up order, teardown, reload and signals, with a fake data plane, a fake CAN port
// and a recording sd_notify. No root, no CAN.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <map>
#include <string>
#include <vector>

#include "daemon/control_socket.h"
#include "daemon/daemon.h"
#include "daemon_test_util.h"
#include "fake_can_port.h"
#include "fake_clock.h"
#include "fake_data_plane.h"
#include "json_view.h"

using namespace spsec;
using spsec::test::TempDir;

namespace {

constexpr const char* kKeys =
        "format = 1\n"
        "seed.key = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
        "seed.salt = 0102030405060708\n"
        "seed.id = 0x00000042\n";

struct Env {
	TempDir dir;
	Logger log{-1, LogLevel::Error, false};
	FakeClock clock{7'000'000'000};
	FakeDataPlane dp;
	std::vector<std::string> notes;
	bool can_fails = false;
	std::uint64_t realtime = 0;  // CLOCK_REALTIME seen by the daemon; 0: no floor
	int can_opened = 0;

	Env(bool sync = false, bool signals = false)
	{
		write_config(sync, 150);
		spsec::test::write_file(dir.file("keys"), kKeys, 0600);
		handle_signals = signals;
	}
	void write_config(bool sync, int window, const std::string& iface = "vcan0",
	                  const std::string& extra = "")
	{
		spsec::test::write_file(dir.file("spsecd.yaml"), "interface: " + iface +
		                                                         "\n"
		                                                         "participant_id: 5\n"
		                                                         "sync: " +
		                                                         (sync ? "on" : "off") +
		                                                         "\n"
		                                                         "aead: aes-gcm\n"
		                                                         "data_bitrate: 1000000\n"
		                                                         "acceptance_window: " +
		                                                         std::to_string(window) +
		                                                         "\n"
		                                                         "key_store: " +
		                                                         dir.file("keys") +
		                                                         "\n"
		                                                         "control_socket: " +
		                                                         dir.file("ctl.sock") +
		                                                         "\n"
		                                                         "pin_dir: " +
		                                                         dir.file("pins") + "\n" +
		                                                         extra);
	}
	DaemonDeps deps()
	{
		DaemonDeps d;
		d.log = &log;
		d.clock = &clock;
		d.data_plane = &dp;
		d.open_can = [this](const std::string&) -> Result<std::unique_ptr<CanPort>> {
			if (can_fails)
				return fail("fake: no CAN");
			can_opened++;
			return std::make_unique<FakeCanPort>();
		};
		d.notify = [this](std::string_view s) -> Result<bool> {
			notes.emplace_back(s);
			return true;
		};
		d.key_owner = ::geteuid();
		d.state_dir = dir.path();
		d.handle_signals = handle_signals;
		d.realtime_ns = [this] { return realtime; };
		return d;
	}
	std::string status()
	{
		auto c = control_connect(dir.file("ctl.sock"), 2000);
		REQUIRE(c);
		REQUIRE(control_write(c->get(), "{\"cmd\":\"status\"}\n"));
		return c->valid() ? pump_reply(c->get()) : "";
	}
	// A control client subscribed to the event stream of `current`.
	Fd subscribe()
	{
		auto sub = control_connect(dir.file("ctl.sock"), 2000);
		REQUIRE(sub);
		REQUIRE(control_write(sub->get(), "{\"cmd\":\"events\"}\n"));
		CHECK(pump_reply(sub->get()) == R"({"subscribed":true})");
		return std::move(*sub);
	}
	Daemon* current = nullptr;
	bool handle_signals = false;
	std::map<int, std::string> buffers;  // bytes read past the last line, per client fd
	std::string pump_reply(int fd)
	{
		std::string& buf = buffers[fd];
		for (int i = 0; i < 100 && buf.find('\n') == std::string::npos; i++) {
			char ch;
			if (::recv(fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
				break;
			REQUIRE(current->run_once(50));
		}
		auto l = control_read_line(fd, buf);
		REQUIRE(l);
		return *l;
	}
	bool noted(std::string_view s) const
	{
		return std::find(notes.begin(), notes.end(), s) != notes.end();
	}
};

}  // namespace

TEST_CASE("participant start-up runs in order and reports Waiting", "[daemon]")
{
	Env env;
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	env.current = &d;
	auto r = d.start();
	if (!r)
		FAIL(r.error().message());
	CHECK(env.dp.calls == std::vector<std::string>{"open vcan0", "publish 1"});
	CHECK_FALSE(env.dp.last.clock_set);
	CHECK(env.dp.last.tick_ns == 100'000u);
	CHECK(env.can_opened == 1);
	CHECK(env.noted("READY=1\nSTATUS=running"));
	CHECK(d.state() == SPSEC_STATE_WAITING);

	auto st = parse_json_view(env.status());
	REQUIRE(st);
	CHECK(st->find("state")->as_string() == "Waiting");
	CHECK(st->find("interface")->as_string() == "vcan0");
	CHECK(st->find("role")->as_string() == "participant");
	CHECK(st->find("clock_set")->as_bool() == false);
	CHECK(st->find("keys")->find("seed")->as_string() == "0x00000042");
	CHECK(st->find("keys")->find("integrator")->type() == JsonValue::Type::Null);
	CHECK(st->find("counters")->find("rx_ok")->as_u64() == 0u);
	CHECK(st->find("acceptance_window")->as_u64() == 150u);

	d.teardown();
	CHECK(env.dp.calls.back() == "close");
	CHECK(env.dp.last.state == SPSEC_STATE_SHUTDOWN);
	CHECK(env.noted("STOPPING=1"));
	CHECK(::access(env.dir.file("ctl.sock").c_str(), F_OK) != 0);
	d.teardown();  // idempotent
	CHECK(std::count(env.dp.calls.begin(), env.dp.calls.end(), "close") == 1);
}

TEST_CASE("a key store with group access stops start-up before the data plane", "[daemon]")
{
	Env env;
	::chmod(env.dir.file("keys").c_str(), 0640);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	auto r = d.start();
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("mode 0640"));
	CHECK(env.dp.calls.empty());
	CHECK_FALSE(env.noted("READY=1\nSTATUS=running"));
}

TEST_CASE("a bad config stops start-up with the config's message", "[daemon]")
{
	Env env;
	spsec::test::write_file(env.dir.file("spsecd.yaml"),
	                        "interface: vcan0\nparticipant_id: 500\n");
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	auto r = d.start();
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("loading the configuration") &&
	                                        Catch::Contains("participant_id"));
	CHECK(env.dp.calls.empty());
}

TEST_CASE("a config with several errors is logged one error per record, each at error priority",
          "[daemon]")
{
	Env env;
	int p[2];
	REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	const Fd r(p[0]), w(p[1]);
	env.log = Logger(w.get(), LogLevel::Info, true);  // as under systemd: "<N>" prefixes
	const std::string cfg = env.dir.file("spsecd.yaml");
	spsec::test::write_file(cfg, "interface: vcan0\nparticipant_id: 500\n");
	Daemon d(env.deps(), cfg);
	REQUIRE_FALSE(d.start());

	std::string out(65536, '\0');
	const ssize_t n = ::read(r.get(), out.data(), out.size());
	REQUIRE(n > 0);
	out.resize(static_cast<std::size_t>(n));
	std::vector<std::string> lines;
	for (std::size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1)
		lines.push_back(out.substr(at, nl - at));
	REQUIRE(out.back() == '\n');
	std::vector<std::string> errors;  // the error records; teardown adds an info one
	for (const auto& l : lines) {
		CHECK_THAT(l, Catch::Matches("<[0-9]>spsecd: .*"));
		CHECK(l.find('?') == std::string::npos);
		if (l.starts_with("<3>spsecd: "))
			errors.push_back(l);
	}
	// participant_id out of range, and aead, data_bitrate, key_store missing
	REQUIRE(errors.size() >= 4);
	CHECK_THAT(errors[0],
	           Catch::StartsWith("<3>spsecd: start-up failed: loading the configuration: " +
	                             cfg + ":2: participant_id: ") &&
	                   Catch::EndsWith("is not in range (1..127)"));
	CHECK(std::count(errors.begin(), errors.end(),
	                 "<3>spsecd: " + cfg +
	                         ": aead: is required (aes-gcm | chacha20-poly1305 | ascon, "
	                         "one per network)") == 1);
}

TEST_CASE("a failure after the data plane opened still tears everything down", "[daemon]")
{
	Env env;
	env.can_fails = true;
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	auto r = d.start();
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("control-plane CAN socket"));
	CHECK(env.dp.calls == std::vector<std::string>{"open vcan0", "close"});
	CHECK(env.noted("STOPPING=1"));

	Env env2;
	env2.dp.fail_open = true;
	Daemon d2(env2.deps(), env2.dir.file("spsecd.yaml"));
	auto r2 = d2.start();
	REQUIRE_FALSE(r2);
	CHECK_THAT(r2.error().message(), Catch::Contains("opening the data plane"));
	CHECK(env2.dp.calls == std::vector<std::string>{"open vcan0"});  // nothing to close
	CHECK(env2.can_opened == 0);
}

TEST_CASE("reload refuses a bad config or key store and keeps the old one", "[daemon]")
{
	Env env;
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	env.current = &d;
	REQUIRE(d.start());
	const Fd sub = env.subscribe();

	spsec::test::write_file(env.dir.file("spsecd.yaml"), "interface: [\n");
	auto bad = d.reload();
	REQUIRE_FALSE(bad);
	CHECK(d.config()->acceptance_window == 150u);
	auto ev = parse_json_view(env.pump_reply(sub.get()));
	REQUIRE(ev);
	CHECK(ev->find("event")->as_string() == "reload");
	CHECK(ev->find("ok")->as_bool() == false);
	CHECK_THAT(std::string(*ev->find("error")->as_string()),
	           Catch::Contains("loading the configuration"));

	env.write_config(false, 150, "vcan1");
	auto fixed = d.reload();
	REQUIRE_FALSE(fixed);
	CHECK_THAT(fixed.error().context, Catch::Contains("interface cannot change on reload"));
	CHECK(d.config()->interface == "vcan0");

	// the attach mode is the attachment's, made at start: a reload cannot change it
	env.write_config(false, 150, "vcan0", "attach: tc\n");
	auto attach = d.reload();
	REQUIRE_FALSE(attach);
	CHECK_THAT(attach.error().context, Catch::Contains("attach cannot change on reload"));
	CHECK(d.config()->attach == AttachPref::Auto);

	env.write_config(false, 300);
	::chmod(env.dir.file("keys").c_str(), 0644);
	auto keys = d.reload();
	REQUIRE_FALSE(keys);
	CHECK_THAT(keys.error().context, Catch::Contains("mode 0644"));
	CHECK(d.config()->acceptance_window == 150u);

	::chmod(env.dir.file("keys").c_str(), 0600);
	auto ok = d.reload();
	REQUIRE(ok);
	CHECK(d.config()->acceptance_window == 300u);
	CHECK(env.dp.calls.back() == "reconfigure vcan0");
	CHECK(env.notes.back() == "READY=1");
	CHECK(std::count(env.notes.begin(), env.notes.end(), "RELOADING=1") == 5);
	CHECK(std::count(env.notes.begin(), env.notes.end(), "READY=1") == 5);
}

TEST_CASE("the Sync role boots T from the persisted value and writes ahead", "[daemon]")
{
	Env env(true);
	std::string tfile = env.dir.file("vcan0.t");
	std::uint64_t first_t;
	{
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		REQUIRE(d.start());
		CHECK(d.state() == SPSEC_STATE_SECURE);
		REQUIRE(d.sync_clock()->is_set());
		first_t = d.sync_clock()->now_t();
		CHECK(first_t == 1);  // first boot
		CHECK(spsec::test::read_file(tfile) == "spsec-t 1 80001\n");
		CHECK(env.dp.last.clock_set);
		CHECK(env.dp.last.base_t == 1u);
		CHECK(env.dp.last.base_ns == env.clock.monotonic_ns());
		CHECK(env.dp.last.state == SPSEC_STATE_SECURE);
		env.clock.advance_ns(100'000ull * 50'000);  // 50 000 ticks
	}
	{
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		REQUIRE(d.start());
		// stored 80001 + 80000
		CHECK(d.sync_clock()->now_t() == 160'001u);
		CHECK(spsec::test::read_file(tfile) == "spsec-t 1 240001\n");
	}
	{
		// A lost T file: the wall clock (here 10^15 ns = 10^10 ticks) is the floor.
		REQUIRE(::unlink(tfile.c_str()) == 0);
		env.realtime = 1'000'000'000'000'000;
		Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
		REQUIRE(d.start());
		CHECK(d.sync_clock()->now_t() == 10'000'000'000u);
		CHECK(spsec::test::read_file(tfile) == "spsec-t 1 10000080000\n");
	}
	spsec::test::write_file(tfile, "garbage");
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	auto r = d.start();
	REQUIRE_FALSE(r);
	CHECK_THAT(r.error().message(), Catch::Contains("corrupt"));
}

TEST_CASE("SIGHUP reloads and SIGTERM stops the running loop", "[daemon]")
{
	Env env(false, true);
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	env.write_config(false, 200);
	REQUIRE(::raise(SIGHUP) == 0);
	auto window = [&] {
		const Config* c = d.config();
		return c == nullptr ? 0u : c->acceptance_window;
	};
	for (int i = 0; i < 100 && window() != 200; i++)
		REQUIRE(d.run_once(50));
	CHECK(window() == 200u);
	REQUIRE(::raise(SIGTERM) == 0);
	REQUIRE(d.run());  // returns once SIGTERM was handled
	CHECK(d.loop()->stopped());
}

TEST_CASE("data-plane events reach the log and the event stream", "[daemon]")
{
	Env env;
	Daemon d(env.deps(), env.dir.file("spsecd.yaml"));
	env.current = &d;
	REQUIRE(d.start());
	const Fd sub = env.subscribe();

	spsec_event e{};
	e.type = SPSEC_EV_AUTH_FAIL;
	e.reason = SPSEC_R_RX_BAD_TAG;
	e.can_id = 0x181;
	e.frame_t = 123456;
	env.dp.inject(e);
	e.type = SPSEC_EV_TX_REFUSED;
	e.reason = SPSEC_R_TX_TOO_LONG;
	env.dp.inject(e);
	auto a = parse_json_view(env.pump_reply(sub.get()));
	REQUIRE(a);
	CHECK(a->find("event")->as_string() == "data_plane");
	CHECK(a->find("type")->as_string() == "auth_fail");
	CHECK(a->find("code")->as_string() == "0x0000ee00");
	CHECK(a->find("reason")->as_string() == "rx_bad_tag");
	CHECK(a->find("can_id")->as_string() == "0x00000181");
	CHECK(a->find("frame_t")->as_u64() == 123456u);
	auto b = parse_json_view(env.pump_reply(sub.get()));
	REQUIRE(b);
	CHECK(b->find("type")->as_string() == "tx_refused");
	CHECK(b->find("code")->type() == JsonValue::Type::Null);
	CHECK(b->find("reason")->as_string() == "tx_too_long");
}

TEST_CASE("the systemd watchdog is fed from the loop", "[daemon]")
{
	Env env;
	DaemonDeps deps = env.deps();
	deps.watchdog_usec = 2000;  // fed every 1 ms
	Daemon d(std::move(deps), env.dir.file("spsecd.yaml"));
	REQUIRE(d.start());
	for (int i = 0; i < 100 && !env.noted("WATCHDOG=1"); i++)
		REQUIRE(d.run_once(50));
	CHECK(env.noted("WATCHDOG=1"));

	Env off;
	Daemon quiet(off.deps(), off.dir.file("spsecd.yaml"));
	REQUIRE(quiet.start());
	REQUIRE(quiet.run_once(20));
	CHECK_FALSE(off.noted("WATCHDOG=1"));
}
