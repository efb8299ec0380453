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

// The value of one hex digit (either case), or -1 for any other character.
[[nodiscard]] int hex_value(char c) noexcept;

// Parses hex digits (either case). Whitespace, ':' and '_' between bytes are ignored, so vectors
// can be written as "00 01 02" or "00:01:02". Errors: a character that is not a hex digit or
// separator (the error names it and its offset), an odd number of digits, or a separator inside
// a byte ("0 a").
[[nodiscard]] Result<std::vector<std::uint8_t>> parse_hex(std::string_view text);

// Lower-case hex, with `separator` between bytes when it is not '\0'.
[[nodiscard]] std::string format_hex(std::span<const std::uint8_t> bytes, char separator = '\0');

// Untrusted text (a config value, a line of a log file) quoted for an error message or a
// report: in double quotes, printable ASCII kept, every other byte (ESC, CR, LF, DEL, UTF-8)
// shown as '?', at most `max` characters, then "...". A hostile input cannot put a terminal
// escape sequence, a line break or a carriage return into what spsecd or spsecctl print.
//   quote_printable("can0")          -> "\"can0\""
//   quote_printable("a\x1b]0;x\x07") -> "\"a?]0;x?\""
[[nodiscard]] std::string quote_printable(std::string_view text, std::size_t max = 40);

}  // namespace spsec
