// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "ctl/commands.h"

namespace spsec::ctl {

int cmd_status(int, char**)
{
	std::fputs("spsecctl: status is not built yet\n", stderr);
	return 1;
}

int cmd_events(int, char**)
{
	std::fputs("spsecctl: events is not built yet\n", stderr);
	return 1;
}

int cmd_stats(int, char**)
{
	std::fputs("spsecctl: stats is not built yet\n", stderr);
	return 1;
}

}  // namespace spsec::ctl
