// SPDX-License-Identifier: Apache-2.0
// FakeDataPlane: the daemon's DataPlanePort for tests and benches (no BPF, no root).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "daemon/data_plane_port.h"

namespace spsec {

// Records every call; each step can be made to fail. inject() queues a data-plane event and
// makes event_fd() readable, as the ring buffer would.
class FakeDataPlane final : public DataPlanePort {
public:
	FakeDataPlane() : efd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
	[[nodiscard]] Result<void> open(const Config& cfg, const SenderTable& s) override
	{
		calls.push_back("open " + cfg.interface);
		if (fail_open)
			return fail("fake data plane: open refused");
		opened = true;
		senders = s;
		return {};
	}
	[[nodiscard]] Result<void> reconfigure(const Config& cfg, const SenderTable& s) override
	{
		calls.push_back("reconfigure " + cfg.interface);
		if (fail_reconfigure)
			return fail("fake data plane: reconfigure refused");
		senders = s;
		return {};
	}
	[[nodiscard]] Result<std::vector<SenderRuleCount>> sender_counts() override
	{
		auto out = sender_count;
		out.resize(senders.size());
		return out;
	}
	[[nodiscard]] Result<void> publish(const DataPlaneState& st) override
	{
		calls.push_back("publish " + std::to_string(st.state));
		last = st;
		return {};
	}
	[[nodiscard]] Result<void> install_key(AeadKind aead, const Key32& key, const KeySalt&,
	                                       std::uint64_t window) override
	{
		(void)aead;
		installs.push_back(window);
		key_of_window[window].assign(key.expose().begin(), key.expose().end());
		slots[window_parity(window)] = window;
		return {};
	}
	[[nodiscard]] Result<void> wipe_keys() override
	{
		wipes++;
		slots.clear();
		return {};
	}
	[[nodiscard]] std::optional<DataPlaneState> live_pinned_state() const noexcept override
	{
		return pinned;
	}
	[[nodiscard]] Result<CounterSnapshot> counters() override { return snapshot; }
	[[nodiscard]] int event_fd() const noexcept override { return efd_.get(); }
	[[nodiscard]] Result<int> drain_events(const EventSink& sink) override
	{
		std::uint64_t n = 0;
		(void)::read(efd_.get(), &n, sizeof n);
		int count = 0;
		while (!queued_.empty()) {
			spsec_event e = queued_.front();
			queued_.pop_front();
			sink(e);
			count++;
		}
		return count;
	}
	void inject(const spsec_event& e)
	{
		queued_.push_back(e);
		std::uint64_t one = 1;
		(void)::write(efd_.get(), &one, sizeof one);
	}
	void close() noexcept override
	{
		calls.push_back("close");
		opened = false;
	}
	void lost_interface() noexcept override
	{
		calls.push_back("lost_interface");
		attached = false;
	}
	[[nodiscard]] Result<void> reattach(const Config& cfg) override
	{
		calls.push_back("reattach " + cfg.interface);
		if (fail_reattach)
			return fail("fake data plane: no such interface");
		attached = true;
		return {};
	}
	[[nodiscard]] Result<void> reattach_gateway(const Config&) override
	{
		calls.push_back("reattach_gateway");
		if (fail_reattach)
			return fail("fake data plane: no such segment");
		return {};
	}
	[[nodiscard]] DataPlaneFeatures features() const override { return feats; }

	std::vector<std::string> calls;
	DataPlaneFeatures feats{"tc", false, "bpf", ""};  // what status reports
	bool fail_open = false;
	bool fail_reattach = false;
	bool fail_reconfigure = false;
	SenderTable senders;                        // the rules of the last open/reconfigure
	std::vector<SenderRuleCount> sender_count;  // what sender_counts() reports (set by tests)
	bool opened = false;
	bool attached = true;
	DataPlaneState last;
	CounterSnapshot snapshot;
	std::vector<std::uint64_t> installs;  // windows, in install order
	// The last key installed per window (a test compares keys across nodes).
	std::map<std::uint64_t, std::vector<std::uint8_t>> key_of_window;
	std::map<unsigned, std::uint64_t> slots;  // parity -> window now installed
	int wipes = 0;
	std::optional<DataPlaneState> pinned;  // what open() "found" (set by the test)

private:
	Fd efd_;
	std::deque<spsec_event> queued_;
};

}  // namespace spsec
