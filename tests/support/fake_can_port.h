// SPDX-License-Identifier: Apache-2.0
// FakeCanPort: the daemon's CanPort for tests and benches, no CAN support in the kernel needed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "daemon/can_port.h"

namespace spsec {

// For tests: records sent frames, replays queued received frames. Frames in `inbox` carry the
// receive time the test gives them; `on_receive` runs as each is handed out (a test makes fake
// time pass there, as a stalled daemon would see it).
class FakeCanPort final : public CanPort {
public:
	[[nodiscard]] Result<std::uint64_t> send(const canfd_frame& frame) override
	{
		sent.push_back(frame);
		return tx_ns ? tx_ns() : 0;
	}
	[[nodiscard]] Result<std::optional<RxFrame>> receive() override
	{
		if (inbox.empty())
			return std::optional<RxFrame>{};
		RxFrame f = inbox.front();
		inbox.pop_front();
		if (on_receive)
			on_receive(f);
		return std::optional<RxFrame>{f};
	}
	[[nodiscard]] int fd() const noexcept override { return -1; }

	std::vector<canfd_frame> sent;
	std::deque<RxFrame> inbox;
	std::function<std::uint64_t()> tx_ns;  // send()'s result; unset: 0
	std::function<void(const RxFrame&)> on_receive;
};

}  // namespace spsec
