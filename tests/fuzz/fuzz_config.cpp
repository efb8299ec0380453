// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as a YAML configuration. parse_config must never crash or
// throw, and anything it accepts must satisfy the validated invariants.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "fuzz_check.h"

using spsec::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	const std::string_view text(reinterpret_cast<const char*>(data), size);
	auto c = spsec::parse_config(text, "fuzz");
	if (!c) {
		check(!c.error().context.empty());
		return 0;
	}
	check(!c->interface.empty() && c->interface.size() <= 15);
	check(c->participant_id >= 1 && c->participant_id <= 127);
	check(c->tick_ns > 0 && c->tick_ns * c->data_bitrate == 100000000000ull);
	check(c->acceptance_window >= 1 && c->acceptance_window <= SPSEC_MAX_WINDOW);
	check(c->heartbeat.monitor.size() <= 4);
	check(c->key_store.starts_with('/') && c->pin_dir.starts_with('/') &&
	      c->control_socket.starts_with('/'));
	check(c->timeouts.warning_abort > c->timeouts.warning_hold);
	for (const auto& id : c->secured_ids) {
		check(id.extended ? id.id <= 0x1FFFFFFF && !(id.id & SPSEC_CTRL_BIT)
		                  : id.id <= 0x7FF);
		for (const auto& p : c->plaintext_ids)
			check(!(p == id));
		for (const auto& o : c->secured_ids)
			check(&o == &id || o.nonce_bits() != id.nonce_bits());
		auto again = spsec::parse_can_id(spsec::format_can_id(id));
		check(again && *again == id);
	}
	return 0;
}
