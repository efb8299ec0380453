// SPDX-License-Identifier: Apache-2.0
// Per-key material for the data plane: fills a struct spsec_key_slot (include/spsec/abi.h) the
// way the BPF AEAD cores (bpf/crypto/spsec_aead.h) expect it.
//
// AES-256-GCM slots carry precomputed material: the 60 AES-256 round keys as little-endian column
// words, H = E_K(0^128) and the 64 KiB GHASH table (layout in bpf/crypto/spsec_aes_gcm.h).
// ChaCha20-Poly1305 and Ascon-AEAD128 use the raw key only (Ascon: bytes 16..31); their
// precomputed fields stay zero.
#pragma once

#include <cstdint>
#include <span>

#include "core/aead.h"
#include "core/secret.h"
#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

// Overwrites all of `out` (66 KiB) with the slot for `key` in key window `window`: key, salt,
// window, aead, live = 1, and for AES-GCM the round keys, H and the GHASH table. Errors: `kind`
// is not one of the three AEADs, or `window` is beyond the 40-bit window range of a 64-bit T
// (T >> SPSEC_WINDOW_SHIFT); `out` is then wiped and not live.
[[nodiscard]] Result<void> prepare_key_slot(AeadKind kind, const Key32& key,
                                            std::span<const std::uint8_t, 8> salt,
                                            std::uint64_t window, spsec_key_slot& out);

// Wipes the whole slot (key, salt and all derived material) so the compiler cannot elide it;
// live becomes 0.
void wipe_key_slot(spsec_key_slot& slot) noexcept;

}  // namespace spsec
