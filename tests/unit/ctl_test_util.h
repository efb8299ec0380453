// SPDX-License-Identifier: Apache-2.0
// Test fixtures for spsecctl configure/provision: an in-memory CAN bus of SessionServers with a
// virtual clock behind the FrameLink interface, owner-only key files in a temporary directory,
// and a runner that captures the command's exit code and output.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/hex.h"
#include "core/session.h"
#include "ctl/can_link.h"
#include "ctl/commands.h"

namespace spsec::ctl::test {

// Deterministic randoms: first, first+1, ... (each session gets fresh values).
inline SessionRng counting_rng(std::uint8_t first)
{
	auto next = std::make_shared<std::uint8_t>(first);
	return [next](std::span<std::uint8_t> b) {
		for (auto& x : b)
			x = (*next)++;
	};
}

inline RegisterStore factory_store(const std::string& device)
{
	DeviceInfo d;
	d.core_version = "spsec-linux 0.1";
	d.mapping_version = "canfd-1";
	d.device_id = device;
	d.serial.fill(0x5A);
	return RegisterStore(std::move(d));
}

// One participant: its register store and session server, as spsecd would hold them.
struct MemNode {
	MemNode(std::uint8_t pp, RegisterStore s, std::uint8_t rng_first)
	    : store(std::move(s)), server(pp, AeadKind::AesGcm, counting_rng(rng_first)),
	      rng_first_(rng_first)
	{
	}
	// The daemon restarting: a new participant ID takes effect, sessions are gone.
	void restart()
	{
		server = SessionServer(store.config().participant_id, AeadKind::AesGcm,
		                       counting_rng(static_cast<std::uint8_t>(rng_first_ + 0x40)));
	}
	RegisterStore store;
	SessionServer server;
	std::vector<SessionEvent> events;
	unsigned commits = 0;

private:
	std::uint8_t rng_first_;
};

// Every frame sent reaches every node; responses queue up in order. Waiting for a frame when
// none is queued moves the virtual clock to the deadline and runs the nodes' timers.
class MemBus {
public:
	MemNode& add(std::uint8_t pp, const std::string& device)
	{
		nodes.push_back(std::make_unique<MemNode>(
		        pp, factory_store(device), static_cast<std::uint8_t>(0x80 + nodes.size())));
		return *nodes.back();
	}
	void send(const CanFrame& f)
	{
		sent++;
		sent_lengths.push_back(f.len);
		for (auto& n : nodes)
			deliver(*n, n->server.on_frame(f, now, n->store));
	}
	std::optional<CanFrame> receive(std::uint64_t deadline)
	{
		if (queue.empty()) {
			now = std::max(now, deadline);
			for (auto& n : nodes)
				deliver(*n, n->server.on_tick(now));
		}
		if (queue.empty())
			return std::nullopt;
		CanFrame f = queue.front();
		queue.pop_front();
		return f;
	}
	unsigned commits() const
	{
		unsigned c = 0;
		for (const auto& n : nodes)
			c += n->commits;
		return c;
	}

	std::vector<std::unique_ptr<MemNode>> nodes;
	std::deque<CanFrame> queue;
	std::uint64_t now = 1'000'000'000;
	unsigned sent = 0;
	std::vector<std::uint8_t> sent_lengths;  // data length of every frame sent, in order
	unsigned opened = 0;                     // links opened by commands
	// Called on every frame a node sends (an attacker or a noisy bus in between).
	std::function<void(CanFrame&)> tamper;

private:
	void deliver(MemNode& n, ServerOutput out)
	{
		for (auto& e : out.events)
			n.events.push_back(e);
		if (out.commit) {
			// spsecd persists the store, then acknowledges.
			n.store = std::move(*out.commit);
			n.commits++;
		}
		for (auto f : out.frames) {
			if (tamper)
				tamper(f);
			queue.push_back(f);
		}
	}
};

class BusLink final : public FrameLink {
public:
	explicit BusLink(MemBus& b) : bus_(b) {}
	Result<void> send(const CanFrame& f) override
	{
		bus_.send(f);
		return {};
	}
	Result<std::optional<CanFrame>> receive(std::uint64_t deadline) override
	{
		return bus_.receive(deadline);
	}
	std::uint64_t now_ns() override { return bus_.now; }

private:
	MemBus& bus_;
};

struct Outcome {
	int rc = -1;
	std::string out;
	std::string err;
};

inline Outcome run_cmd(int (*fn)(const std::vector<std::string>&, CtlEnv&), MemBus& bus,
                       std::vector<std::string> args)
{
	CtlEnv env;
	env.open_link = [&bus](const std::string& ifname) -> Result<std::unique_ptr<FrameLink>> {
		if (ifname != "vcan0")
			return fail("CAN interface " + ifname + ": No such device");
		bus.opened++;
		return std::unique_ptr<FrameLink>(new BusLink(bus));
	};
	env.rng = counting_rng(0x10);
	Outcome o;
	o.rc = fn(args, env);
	o.out = env.out;
	o.err = env.err;
	return o;
}

// A temporary directory, removed with its files at the end of the test.
class TempDir {
public:
	TempDir()
	{
		char tmpl[] = "/tmp/spsec-ctl-test-XXXXXX";
		const char* p = ::mkdtemp(tmpl);
		if (p)
			path_ = p;
	}
	~TempDir()
	{
		for (const auto& f : files_)
			::unlink(f.c_str());
		if (!path_.empty())
			::rmdir(path_.c_str());
	}
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;

	// Writes `name` with `mode`; returns its path.
	std::string write(const std::string& name, const std::string& text, mode_t mode = 0600)
	{
		const std::string p = path_ + "/" + name;
		{
			std::ofstream f(p, std::ios::trunc);
			f << text;
		}
		::chmod(p.c_str(), mode);
		files_.push_back(p);
		return p;
	}
	// A key store file with one key of `role` ("provisioning", ...): the key is 32 bytes of
	// `fill`, the salt 8 bytes of fill ^ 0xFF.
	std::string key_file(const std::string& name, const std::string& role, std::uint8_t fill,
	                     std::uint32_t id, mode_t mode = 0600)
	{
		char idtext[16];
		std::snprintf(idtext, sizeof idtext, "0x%08x", id);
		const std::vector<std::uint8_t> key(32, fill);
		const std::vector<std::uint8_t> salt(8, static_cast<std::uint8_t>(fill ^ 0xFF));
		return write(name,
		             "format = 1\n" + role + ".key = " + format_hex(key) + "\n" + role +
		                     ".salt = " + format_hex(salt) + "\n" + role +
		                     ".id = " + idtext + "\n",
		             mode);
	}
	const std::string& path() const { return path_; }

private:
	std::string path_;
	std::vector<std::string> files_;
};

// True when `store` holds key `slot` with all bytes `fill`, salt fill ^ FF, ID `id`.
inline bool has_key(const RegisterStore& store, KeySlotId slot, std::uint8_t fill, std::uint32_t id)
{
	const KeySlot& k = store.key(slot);
	if (!k.present || k.id != id)
		return false;
	for (auto b : k.key.expose())
		if (b != fill)
			return false;
	for (auto b : k.salt)
		if (b != (fill ^ 0xFF))
			return false;
	return true;
}

}  // namespace spsec::ctl::test
