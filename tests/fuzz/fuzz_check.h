// SPDX-License-Identifier: Apache-2.0
// The fuzz targets' assertion: a broken invariant traps, so libFuzzer keeps the input.
#pragma once

namespace spsec::fuzz {

inline void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

}  // namespace spsec::fuzz
