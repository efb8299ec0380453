// SPDX-License-Identifier: Apache-2.0
// Key material that cannot leak by accident.
//
// Secret<N> owns N bytes of key material. It has no operator<<, no formatter, no implicit
// conversion to bytes and no equality operator (use ct_equal); the bytes are reachable only through
// the explicit expose() accessors, so every use is visible in review. The memory is wiped with
// OPENSSL_cleanse on destruction and on move-from. Copying is explicit (clone()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace spsec {

// Wipes memory so the compiler cannot elide it (OPENSSL_cleanse).
void secure_wipe(void* p, std::size_t n) noexcept;

// Constant-time comparison of two equally long byte ranges (CRYPTO_memcmp). Returns false when
// the sizes differ.
[[nodiscard]] bool ct_equal(std::span<const std::uint8_t> a,
                            std::span<const std::uint8_t> b) noexcept;

template <std::size_t N> class Secret {
public:
	Secret() noexcept = default;
	explicit Secret(std::span<const std::uint8_t, N> bytes) noexcept
	{
		for (std::size_t i = 0; i < N; i++)
			bytes_[i] = bytes[i];
	}
	~Secret() { secure_wipe(bytes_.data(), N); }

	Secret(const Secret&) = delete;
	Secret& operator=(const Secret&) = delete;
	Secret(Secret&& o) noexcept : bytes_(o.bytes_) { secure_wipe(o.bytes_.data(), N); }
	Secret& operator=(Secret&& o) noexcept
	{
		if (this != &o) {
			bytes_ = o.bytes_;
			secure_wipe(o.bytes_.data(), N);
		}
		return *this;
	}

	[[nodiscard]] Secret clone() const noexcept
	{
		return Secret(std::span<const std::uint8_t, N>(bytes_));
	}

	[[nodiscard]] std::span<const std::uint8_t, N> expose() const noexcept { return bytes_; }
	[[nodiscard]] std::span<std::uint8_t, N> expose_mut() noexcept { return bytes_; }

	static constexpr std::size_t size() noexcept { return N; }

private:
	std::array<std::uint8_t, N> bytes_{};
};

// Every SPsec key is 32 bytes (spec §3).
using Key32 = Secret<32>;

}  // namespace spsec
