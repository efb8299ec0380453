// SPDX-License-Identifier: Apache-2.0
// The DaemonDeps of an in-process spsecd on fakes, shared by the unit tests' bus
// (tests/unit/daemon_bus_fixture.h) and the idle benchmark (bench/daemon_idle_bench.cpp): a
// FakeCanPort per opened interface, no systemd, no signals, realtime 0 and a deterministic
// counter for randoms, so a run is reproducible.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "daemon/daemon.h"
#include "fake_can_port.h"
#include "fake_clock.h"
#include "fake_data_plane.h"

namespace spsec::test {

// `can` is set to the FakeCanPort the daemon opens (owned by the daemon); `rnd` is the next
// "random" byte. Everything passed must outlive the Daemon.
[[nodiscard]] inline DaemonDeps fake_daemon_deps(const Logger& log, const FakeClock& clock,
                                                 FakeDataPlane& dp, FakeCanPort*& can,
                                                 const std::string& state_dir, std::uint8_t& rnd)
{
	DaemonDeps deps;
	deps.log = &log;
	deps.clock = &clock;
	deps.data_plane = &dp;
	deps.open_can = [&can](const std::string&) -> Result<std::unique_ptr<CanPort>> {
		auto p = std::make_unique<FakeCanPort>();
		can = p.get();
		return std::unique_ptr<CanPort>(std::move(p));
	};
	deps.notify = [](std::string_view) -> Result<bool> { return true; };
	deps.key_owner = ::geteuid();
	deps.state_dir = state_dir;
	deps.handle_signals = false;
	deps.realtime_ns = [] { return std::uint64_t{0}; };
	deps.random = [&rnd](std::span<std::uint8_t> out) -> Result<void> {
		for (auto& b : out)
			b = rnd++;
		return {};
	};
	return deps;
}

}  // namespace spsec::test
