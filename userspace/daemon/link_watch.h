// SPDX-License-Identifier: Apache-2.0
// Link events of the network namespace over rtnetlink (RTMGRP_LINK), so spsecd notices when its
// CAN interface disappears (USB adapter unplugged, driver reloaded, `ip link del`) and when it
// comes back under the same name: the tc filters died with the old device, the pinned maps did
// not, and the data plane must be attached to the new one (docs/operations.md).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/fd.h"
#include "spsec/result.h"

namespace spsec {

struct LinkEvent {
	enum class Kind : std::uint8_t { Added, Removed };
	Kind kind = Kind::Added;  // Added: RTM_NEWLINK (also sent on every flag change)
	int ifindex = 0;
	std::string name;  // IFLA_IFNAME
	bool up = false;   // IFF_UP
	friend bool operator==(const LinkEvent&, const LinkEvent&) = default;
};

// Parses one datagram of rtnetlink messages into link events; other messages, truncated
// messages and links without a name are skipped (never read past `buf`).
[[nodiscard]] std::vector<LinkEvent> parse_link_messages(std::span<const std::uint8_t> buf);

class LinkSource {
public:
	virtual ~LinkSource() = default;
	// Readable when events wait (non-blocking).
	[[nodiscard]] virtual int fd() const noexcept = 0;
	// Every waiting event. Errors: the kernel dropped events (ENOBUFS: the caller must
	// re-check the link itself), or the read failed.
	[[nodiscard]] virtual Result<std::vector<LinkEvent>> read() = 0;
};

// The rtnetlink socket. Errors: socket/bind failed.
[[nodiscard]] Result<std::unique_ptr<LinkSource>> open_rtnetlink_link_watch();

}  // namespace spsec
