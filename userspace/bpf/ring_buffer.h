// SPDX-License-Identifier: Apache-2.0
// Consumer of the data plane's event ring buffer (spsec_events). Move-only; the handler is
// called on the polling thread for each struct spsec_event.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <bpf/libbpf.h>

#include "spsec/abi.h"
#include "spsec/result.h"

namespace spsec {

class RingBuffer {
public:
	// Called once per event. It must not throw; if it does anyway, the exception is caught at
	// the C callback boundary, counted in handler_failures() and polling stops for this batch.
	using Handler = std::function<void(const spsec_event&)>;

	// Errors: `map` is not a created RINGBUF map (EINVAL/EBADF), out of memory.
	[[nodiscard]] static Result<RingBuffer> open(bpf_map* map, Handler handler);

	RingBuffer(RingBuffer&&) noexcept = default;
	RingBuffer& operator=(RingBuffer&&) noexcept = default;
	RingBuffer(const RingBuffer&) = delete;
	RingBuffer& operator=(const RingBuffer&) = delete;
	~RingBuffer() = default;

	// Waits up to timeout_ms (0: no wait, -1: forever) and handles what arrived. Returns the
	// number of events handled. Errors: epoll failed (EINTR is returned as 0 events).
	[[nodiscard]] Result<int> poll(int timeout_ms);
	// Handles what is there without waiting; for an epoll loop that watches epoll_fd().
	[[nodiscard]] Result<int> consume();
	// Becomes readable when events are waiting.
	[[nodiscard]] int epoll_fd() const noexcept;

	[[nodiscard]] std::uint64_t short_records() const noexcept { return state_->short_records; }
	[[nodiscard]] std::uint64_t handler_failures() const noexcept
	{
		return state_->handler_failures;
	}

private:
	struct State {
		Handler handler;
		std::uint64_t short_records = 0;  // records smaller than struct spsec_event
		std::uint64_t handler_failures = 0;
	};
	struct Deleter {
		void operator()(ring_buffer* rb) const noexcept { ring_buffer__free(rb); }
	};

	RingBuffer(std::unique_ptr<State> st, std::unique_ptr<ring_buffer, Deleter> rb) noexcept
	    : state_(std::move(st)), rb_(std::move(rb))
	{
	}
	static int on_sample(void* ctx, void* data, std::size_t size) noexcept;

	std::unique_ptr<State> state_;  // stable address for libbpf's ctx pointer
	std::unique_ptr<ring_buffer, Deleter> rb_;
};

}  // namespace spsec
