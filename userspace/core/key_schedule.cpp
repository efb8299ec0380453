// SPDX-License-Identifier: Apache-2.0
#include "core/key_schedule.h"

#include "core/aead.h"

namespace spsec {

namespace {

void put_le64(std::uint8_t* p, std::uint64_t v) noexcept
{
	for (int i = 0; i < 8; i++)
		p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

std::array<std::uint8_t, 12> comm_key_salt(std::uint64_t e, const CommSalt& csalt)
{
	std::array<std::uint8_t, 12> salt{};
	put_le64(salt.data(), window_n(e));
	for (std::size_t i = 0; i < 4; i++)
		salt[8 + i] = csalt[i];
	return salt;
}

Result<Key32> derive_comm_key(const Key32& seed, std::uint64_t e, const CommSalt& csalt)
{
	const auto salt = comm_key_salt(e, csalt);
	auto key = derive_key(seed, salt);
	if (!key)
		return tl::unexpected(key.error().with_context("deriving Communication Key"));
	return key;
}

Result<Key32> derive_session_key(const Key32& opening_key,
                                 std::span<const std::uint8_t, 16> client_random,
                                 std::span<const std::uint8_t, 16> server_random)
{
	std::array<std::uint8_t, 32> salt{};
	for (std::size_t i = 0; i < 16; i++) {
		salt[i] = client_random[i];
		salt[16 + i] = server_random[i];
	}
	auto key = derive_key(opening_key, salt);
	if (!key)
		return tl::unexpected(key.error().with_context("deriving Session Key"));
	return key;
}

std::array<std::uint8_t, 24> param_auth_key_salt(std::span<const std::uint8_t, 16> rnd,
                                                 std::uint64_t tim, const CommSalt& csalt)
{
	std::array<std::uint8_t, 24> salt{};
	for (std::size_t i = 0; i < 12; i++)
		salt[i] = rnd[i];
	put_le64(salt.data() + 12, tim);
	for (std::size_t i = 0; i < 4; i++)
		salt[20 + i] = csalt[i];
	return salt;
}

Result<Key32> derive_param_auth_key(const Key32& seed, std::span<const std::uint8_t, 16> rnd,
                                    std::uint64_t tim, const CommSalt& csalt)
{
	const auto salt = param_auth_key_salt(rnd, tim, csalt);
	auto key = derive_key(seed, salt);
	if (!key)
		return tl::unexpected(
		        key.error().with_context("deriving Parameter Authentication Key"));
	return key;
}

}  // namespace spsec
