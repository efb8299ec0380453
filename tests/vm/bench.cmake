# vm tier: a bounded smoke run of the VM benchmarks (bench/vm_bench.sh --smoke): 300 + 100 frames
# per variant (plain, the tc data plane and the user-space gateway per AEAD) must all arrive
# intact and in order, and the idle part's spsecd (3 here, 9 in the full run) must reach Secure and
# hear each other; every BENCH figure must parse. Never asserts on timing. The full benchmark:
# bench/run-vm-bench.sh (docs/performance.md).
spsec_vm_test(bench_smoke SCRIPT ${PROJECT_SOURCE_DIR}/bench/vm_bench.sh TIMEOUT 400 ARGS --smoke
              DEPENDS spsec_bench_vcan spsec_bench_gw spsec_dp_driver spsec_dp_bpf spsecd spsecctl)
# The same for the gateway benchmark (bench/gw_bench.sh --smoke, one round of 300 + 100 frames per
# variant): its probes (can-gw, the segment rule programs, a frame failing verification never
# reaching the segment) must pass and every variant's frames arrive intact and in order. The full
# run: bench/run-vm-bench.sh --gateway (docs/gateway.md).
spsec_vm_test(gw_bench_smoke SCRIPT ${PROJECT_SOURCE_DIR}/bench/gw_bench.sh TIMEOUT 400 ARGS --smoke
              DEPENDS spsec_bench_vcan spsec_bench_gw spsec_gw_probe_bpf spsec_dp_driver)
