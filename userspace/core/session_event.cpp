// SPDX-License-Identifier: Apache-2.0
#include "core/key_schedule.h"
#include "core/session_detail.h"

namespace spsec {

std::string_view session_event_kind_name(SessionEvent::Kind k) noexcept
{
	using K = SessionEvent::Kind;
	switch (k) {
	case K::SecurityEvent:
		return "security_event";
	case K::EnterConfiguration:
		return "enter_configuration";
	case K::ExitConfiguration:
		return "exit_configuration";
	case K::RegisterRead:
		return "register_read";
	case K::RegisterWritten:
		return "register_written";
	case K::KeyInstalled:
		return "key_installed";
	case K::ManufacturerReset:
		return "manufacturer_reset";
	case K::AccessRefused:
		return "access_refused";
	case K::StagedKeyDiscarded:
		return "staged_key_discarded";
	case K::KeyStaged:
		return "key_staged";
	}
	return "unknown";
}

namespace session_detail {

Result<std::unique_ptr<Aead>> session_aead(AeadKind kind, const Key32& opening, const Random16& cr,
                                           const Random16& sr)
{
	auto sk = derive_session_key(opening, cr, sr);
	if (!sk)
		return tl::unexpected(sk.error());
	return Aead::create(kind, *sk);
}

void wipe_vec(std::vector<std::uint8_t>& v) noexcept
{
	if (!v.empty())
		secure_wipe(v.data(), v.size());
	v.clear();
}

}  // namespace session_detail

}  // namespace spsec
