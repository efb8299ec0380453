// SPDX-License-Identifier: Apache-2.0
#include "spsec/result.h"

#include <cstring>

namespace spsec {

std::string Error::message() const
{
	if (errno_value == 0)
		return context;
	return context + ": " + std::strerror(errno_value);
}

}  // namespace spsec
