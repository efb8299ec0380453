// SPDX-License-Identifier: Apache-2.0
// Hex strings for test vectors, the CLI and log-safe dumps of public bytes (never key material).
//
//   parse_hex("0a ff 10")  -> {0x0A, 0xFF, 0x10}
//   parse_hex("0AFF10")    -> {0x0A, 0xFF, 0x10}
//   format_hex({0x0A, 0xFF})       -> "0aff"
//   format_hex({0x0A, 0xFF}, ' ')  -> "0a ff"
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spsec/result.h"

namespace spsec {

// Parses hex digits (either case). Whitespace, ':' and '_' between bytes are ignored, so vectors
// can be written as "00 01 02" or "00:01:02". Errors: a character that is not a hex digit or
// separator (the error names it and its offset), an odd number of digits, or a separator inside
// a byte ("0 a").
[[nodiscard]] Result<std::vector<std::uint8_t>> parse_hex(std::string_view text);

// Lower-case hex, with `separator` between bytes when it is not '\0'.
[[nodiscard]] std::string format_hex(std::span<const std::uint8_t> bytes, char separator = '\0');

}  // namespace spsec
